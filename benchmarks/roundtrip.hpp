#pragma once
// The push + parameters round trip over a tcp loopback van pair, shared by bench_cluster and bench_curve.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"
#include "net/curve.hpp"
#include "net/van.hpp"
#include "ps/shard_plan.hpp"

namespace troupe::bench {

inline double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

/// One parameter-server round-trip benchmark: `clients` trainers, one aggregator, tcp loopback.
struct roundtrip_setup {
  std::size_t floats = 0; ///< gradient and parameter floats per message
  int reps = 6;           ///< timed rounds (after two warm-ups)
  int clients = 1;
  bool curve = false;
  int io_threads = 1;                                       ///< ZeroMQ I/O threads of the aggregator's context
  std::size_t piece_bytes = net::van_options{}.piece_bytes; ///< the vans' (0: whole frames, before wire version 3)
  /// false: the aggregator answers each push at once (asp); true: it answers all clients once the
  /// round's last push is applied (bsp), as its round barrier does.
  bool synchronous = false;
  /// Aggregator shards (ps/shard_plan.hpp): each a server with its own van and ZeroMQ context,
  /// owning a contiguous range; every client pushes each its range of the gradient.
  std::size_t shards = 1;
};

/// Median seconds of a round (after two warm-ups that pay the connection set-up, with CURVE the
/// handshake, and the first touch of the receive buffers a training loop reuses): every client
/// pushes `floats` floats at once, the server applies every push to a master copy the way the
/// aggregator does (on its I/O thread, one after the other) and answers with `floats` floats of
/// parameters; a round ends when every client has its answer.
inline double roundtrip_seconds(const roundtrip_setup& setup) {
  using clock_type = std::chrono::steady_clock;
  const std::size_t floats = setup.floats;
  auto options = [&](const std::string& name) {
    net::van_options o;
    o.node_name = name;
    o.cluster_id = 7;
    o.piece_bytes = setup.piece_bytes;
    return o;
  };
  std::vector<std::string> names;
  for (int c = 0; c < setup.clients; ++c)
    names.push_back(fmt::format("client-{}", c));
  const auto ranges = ps::plan_shards(floats, setup.shards);
  auto server_name = [&](std::size_t k) { return k == 0 ? std::string("server") : fmt::format("server-{}", k); };
  net::van_options so = options("server");
  std::vector<net::van_options> cos;
  for (const auto& n : names)
    cos.push_back(options(n));
  if (setup.curve) {
    std::vector<net::curve_keypair> keys(names.size() + 1);
    for (auto& k : keys)
      k = net::generate_curve_keypair();
    TROUPE_ENFORCE(setup.shards == 1, "the CURVE round trip has one server");
    std::map<std::string, std::string> peers{{"server", keys[0].public_key}};
    for (std::size_t c = 0; c < names.size(); ++c)
      peers[names[c]] = keys[c + 1].public_key;
    so.curve = {true, keys[0], peers};
    for (std::size_t c = 0; c < names.size(); ++c)
      cos[c].curve = {true, keys[c + 1], peers};
  }
  // One server per shard, each with its master range, its parameters and its bsp barrier.
  struct server_state {
    std::unique_ptr<net::van> van;
    std::shared_ptr<const std::vector<float>> params;
    std::vector<float> master;
    std::vector<std::string> waiting; // bsp: the clients of this round that have pushed
  };
  std::vector<server_state> servers(ranges.size());
  for (std::size_t k = 0; k < ranges.size(); ++k) {
    auto o = k == 0 ? so : options(server_name(k));
    o.ctx = net::context::create(setup.io_threads); // each shard is its own process
    auto& sv = servers[k];
    sv.van = std::make_unique<net::van>(o);
    sv.params = std::make_shared<const std::vector<float>>(ranges[k].size(), 0.5f);
    sv.master.assign(ranges[k].size(), 0.0f);
    sv.van->set_handler([&sv, &setup, clients = names.size()](net::message&& m) {
      const auto g = m.view<float>(0);
      for (std::size_t i = 0; i < g.size; ++i)
        sv.master[i] -= 0.01f * g[i];
      sv.waiting.push_back(m.h.sender);
      if (setup.synchronous && sv.waiting.size() < clients)
        return;
      for (const auto& to : sv.waiting) {
        net::message reply(net::msg_type::params);
        reply.add_tensor("params", {static_cast<std::uint32_t>(sv.params->size())}, sv.params);
        sv.van->send(to, std::move(reply));
      }
      sv.waiting.clear();
    });
  }
  std::vector<std::unique_ptr<net::van>> client_vans;
  for (auto& o : cos) {
    o.ctx = net::context::create(1); // each trainer is its own process
    client_vans.push_back(std::make_unique<net::van>(o));
  }
  std::mutex mu;
  std::condition_variable cv;
  std::size_t replies = 0;
  std::vector<std::string> endpoints;
  for (auto& sv : servers)
    endpoints.push_back(sv.van->bind("tcp://127.0.0.1:*"));
  for (auto& v : client_vans) {
    v->set_handler([&](net::message&&) {
      std::lock_guard<std::mutex> lock(mu);
      ++replies;
      cv.notify_all();
    });
    for (std::size_t k = 0; k < servers.size(); ++k)
      v->connect(server_name(k), endpoints[k]);
  }
  auto grad = std::make_shared<const std::vector<float>>(floats, 0.25f);
  std::vector<double> times;
  constexpr int warmups = 2;
  for (int i = 0; i < warmups + setup.reps; ++i) {
    const auto t0 = clock_type::now();
    for (auto& v : client_vans)
      for (std::size_t k = 0; k < ranges.size(); ++k) { // each shard its range, without a copy
        net::message m(net::msg_type::push_gradient);
        m.add_tensor_view("grad", {static_cast<std::uint32_t>(ranges[k].size())}, grad, grad->data() + ranges[k].begin,
                          ranges[k].size());
        v->send(server_name(k), std::move(m));
      }
    std::unique_lock<std::mutex> lock(mu);
    const std::size_t want = static_cast<std::size_t>(i + 1) * client_vans.size() * ranges.size();
    if (!cv.wait_for(lock, std::chrono::seconds(120), [&] { return replies == want; }))
      throw std::runtime_error(
          fmt::format("no reply within 120 s ({} floats, {} clients, curve {})", floats, setup.clients, setup.curve));
    if (i >= warmups)
      times.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  for (auto& v : client_vans)
    v->stop();
  for (auto& sv : servers)
    sv.van->stop();
  return median(times);
}

/// The asp round trip of roundtrip_seconds(setup) with the common knobs as arguments.
inline double roundtrip_seconds(std::size_t floats, bool curve, int reps, int clients = 1, int io_threads = 1,
                                std::size_t piece_bytes = net::van_options{}.piece_bytes) {
  roundtrip_setup s;
  s.floats = floats;
  s.curve = curve;
  s.reps = reps;
  s.clients = clients;
  s.io_threads = io_threads;
  s.piece_bytes = piece_bytes;
  return roundtrip_seconds(s);
}

} // namespace troupe::bench
