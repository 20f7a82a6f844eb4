#pragma once
/// A bandit actor's mailbox: the van's I/O thread pushes, the actor's thread pops with a timeout.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "net/message.hpp"

namespace troupe::bandit {

class mailbox {
public:
  /// Appends m (any thread); never blocks for long: the handler must return quickly.
  void push(net::message&& m) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      q_.push_back(std::move(m));
    }
    cv_.notify_one();
  }
  /// The oldest message, or nothing once `timeout` passed without one.
  std::optional<net::message> pop(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !q_.empty(); }))
      return std::nullopt;
    net::message m = std::move(q_.front());
    q_.pop_front();
    return m;
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<net::message> q_;
};

} // namespace troupe::bandit
