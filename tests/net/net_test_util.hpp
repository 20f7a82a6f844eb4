#pragma once
/// Helpers for the net/ tests: a thread-safe inbox, a countdown signal, sample messages, endpoints.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "net/codec.hpp"
#include "net/van.hpp"

namespace troupe::net::test {

using namespace std::chrono_literals;

/// Collects messages a van hands to its handler; pop() waits with a timeout.
class inbox {
public:
  van::handler handler() {
    return [this](message&& m) {
      std::lock_guard<std::mutex> lk(mu_);
      q_.push_back(std::move(m));
      cv_.notify_all();
    };
  }
  std::optional<message> pop(std::chrono::milliseconds timeout = 20s) {
    std::unique_lock<std::mutex> lk(mu_);
    if (!cv_.wait_for(lk, timeout, [&] { return !q_.empty(); }))
      return std::nullopt;
    auto m = std::move(q_.front());
    q_.pop_front();
    return m;
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<message> q_;
};

/// Counts events from any thread; wait_for(n) blocks (with a timeout) until n have happened.
class counter {
public:
  void bump() {
    std::lock_guard<std::mutex> lk(mu_);
    ++n_;
    cv_.notify_all();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return n_ >= n; });
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t n_ = 0;
};

/// An endpoint to bind for a transport: ephemeral tcp port, unique ipc file, unique inproc name.
inline std::string bind_endpoint(const std::string& transport) {
  static std::atomic<int> n{0};
  if (transport == "tcp")
    return "tcp://127.0.0.1:*";
  if (transport == "ipc")
    return "ipc://*";
  return fmt::format("inproc://net-test-{}", n++);
}

/// Options for a test van in cluster "test".
inline van_options options(const std::string& name, const context& ctx, const std::string& cluster = "test") {
  van_options o;
  o.node_name = name;
  o.cluster_id = cluster_id_of(cluster);
  o.ctx = ctx;
  o.linger = 0ms;
  return o;
}

/// A float tensor [rows, cols] whose element i is offset + i.
inline std::vector<float> ramp(std::size_t n, float offset = 0) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = offset + static_cast<float>(i % 1000003);
  return v;
}

/// Bytes of a frame as a payload copy (what a peer would send).
inline payload bytes(const std::string& s) {
  return payload::copy_of(s.data(), s.size());
}

} // namespace troupe::net::test
