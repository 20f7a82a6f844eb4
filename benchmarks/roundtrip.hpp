#pragma once
// The push + parameters round trip over a tcp loopback van pair, shared by bench_cluster and bench_curve.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "net/curve.hpp"
#include "net/van.hpp"

namespace troupe::bench {

inline double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

/// Median seconds of `reps` round trips (after one warm-up that pays the connection set-up and, with
/// `curve`, the CURVE handshake): the client pushes `floats` floats, the server applies them to a
/// master copy the way the aggregator does and answers with `floats` floats of parameters.
inline double roundtrip_seconds(std::size_t floats, bool curve, int reps) {
  using clock_type = std::chrono::steady_clock;
  net::van_options so, co;
  so.node_name = "server";
  co.node_name = "client";
  so.cluster_id = co.cluster_id = 7;
  if (curve) {
    const auto ks = net::generate_curve_keypair(), kc = net::generate_curve_keypair();
    for (auto* o : {&so, &co}) {
      o->curve.enabled = true;
      o->curve.peers = {{"server", ks.public_key}, {"client", kc.public_key}};
    }
    so.curve.own = ks;
    co.curve.own = kc;
  }
  so.ctx = co.ctx = net::context::create();
  net::van server(so), client(co);
  auto params = std::make_shared<const std::vector<float>>(floats, 0.5f);
  std::vector<float> master(floats, 0.0f);
  server.set_handler([&](net::message&& m) {
    const auto g = m.view<float>(0);
    for (std::size_t i = 0; i < g.size; ++i)
      master[i] -= 0.01f * g[i];
    net::message reply(net::msg_type::params);
    reply.add_tensor("params", {static_cast<std::uint32_t>(floats)}, params);
    server.send("client", std::move(reply));
  });
  std::mutex mu;
  std::condition_variable cv;
  std::size_t replies = 0;
  client.set_handler([&](net::message&&) {
    std::lock_guard<std::mutex> lock(mu);
    ++replies;
    cv.notify_all();
  });
  client.connect("server", server.bind("tcp://127.0.0.1:*"));
  auto grad = std::make_shared<const std::vector<float>>(floats, 0.25f);
  std::vector<double> times;
  for (int i = 0; i <= reps; ++i) {
    const auto t0 = clock_type::now();
    net::message m(net::msg_type::push_gradient);
    m.add_tensor("grad", {static_cast<std::uint32_t>(floats)}, grad);
    client.send("server", std::move(m));
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return replies == static_cast<std::size_t>(i + 1); }))
      throw std::runtime_error(fmt::format("no reply within 60 s ({} floats, curve {})", floats, curve));
    if (i > 0)
      times.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  client.stop();
  server.stop();
  return median(times);
}

} // namespace troupe::bench
