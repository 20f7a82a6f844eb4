#include "runtime/router.hpp"

#include <iostream>

#include <caf/send.hpp>
#include <fmt/format.h>

#include "runtime/messages.hpp"

namespace troupe::runtime {

router::router(std::string node, std::set<std::string> hosted, router_limits limits)
    : node_(std::move(node)), hosted_(std::move(hosted)), limits_(limits) {}

void router::refuse(const net::message& m, const std::string& to, const char* why,
                    std::uint64_t router_counters::*count) {
  ++(counters_.*count);
  const std::uint64_t n = ++logged_;
  if (n <= 20 || n % 1000 == 0)
    std::cerr << fmt::format("troupe-node [{}]: refused {} from '{}' for '{}': {}{}\n", node_, net::to_string(m.h.type),
                             m.h.sender, to, why, n == 20 ? " (further refusals: every 1000th is shown)" : "");
}

void router::route(net::message&& in) {
  auto msg = std::make_shared<const net::message>(std::move(in));
  std::lock_guard<std::mutex> lock(mutex_);
  if (msg->h.to.empty() || msg->h.to.size() > limits_.max_recipients) {
    refuse(*msg, "", msg->h.to.empty() ? "it names no recipient" : "it names too many recipients",
           &router_counters::refused_no_recipient);
    return;
  }
  for (const auto& to : msg->h.to) {
    if (auto it = actors_.find(to); it != actors_.end()) {
      caf::anon_send(it->second, inbound{msg});
      ++counters_.delivered;
      continue;
    }
    if (hosted_.count(to) == 0) {
      refuse(*msg, to, "no such actor on this node", &router_counters::refused_unknown_actor);
      continue;
    }
    auto& by_name = parked_[msg->h.sender];
    auto q = by_name.find(to);
    if (q == by_name.end() && by_name.size() >= limits_.max_parked_names) {
      refuse(*msg, to, "too many actors waited for", &router_counters::refused_full);
      continue;
    }
    auto& queue = by_name[to];
    if (queue.size() >= limits_.max_parked_per_name) {
      refuse(*msg, to, "queue for an actor not started yet is full", &router_counters::refused_full);
      continue;
    }
    queue.push_back(msg);
    ++counters_.parked;
  }
}

void router::add(const std::string& name, caf::actor a) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [sender, by_name] : parked_) {
    if (auto it = by_name.find(name); it != by_name.end()) {
      for (auto& m : it->second)
        caf::anon_send(a, inbound{m});
      by_name.erase(it);
    }
  }
  actors_[name] = std::move(a);
}

void router::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  actors_.clear();
  parked_.clear();
}

router_counters router::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

std::size_t router::parked() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t n = 0;
  for (const auto& [sender, by_name] : parked_)
    for (const auto& [name, q] : by_name)
      n += q.size();
  return n;
}

} // namespace troupe::runtime
