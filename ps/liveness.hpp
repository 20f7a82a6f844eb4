#pragma once
/// Who has been heard from lately: the last time anything arrived from each node, and which nodes
/// are declared lost (silent for longer than the failure timeout). A node's runtime sends
/// heartbeats independently of its actors' compute, so a slow trainer is never mistaken for a
/// gone one. Plain bookkeeping; the caller passes the time.

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace troupe::ps {

class liveness {
public:
  using clock = std::chrono::steady_clock;

  /// `timeout`: silence after which a node is declared lost; `self`: this node, never declared.
  liveness(std::chrono::duration<double> timeout, std::string self) : timeout_(timeout), self_(std::move(self)) {}

  /// Notes that `node` is alive at `now`; true when it had been declared lost (it is back).
  bool heard(const std::string& node, clock::time_point now) {
    last_[node] = now;
    return lost_.erase(node) > 0;
  }

  /// A node declared lost now: its name and how long it had been silent.
  struct declared {
    std::string node;
    double silent_s = 0;
  };
  /// Declares the nodes silent for longer than the timeout lost (once each) and returns them.
  std::vector<declared> check(clock::time_point now) {
    std::vector<declared> out;
    for (const auto& [node, when] : last_) {
      if (node == self_ || lost_.count(node) > 0 || now - when <= timeout_)
        continue;
      lost_.insert(node);
      out.push_back({node, std::chrono::duration<double>(now - when).count()});
    }
    return out;
  }

  bool lost(const std::string& node) const { return lost_.count(node) > 0; }
  /// When `node` was last heard from, if ever.
  std::optional<clock::time_point> last_heard(const std::string& node) const {
    auto it = last_.find(node);
    return it == last_.end() ? std::nullopt : std::optional<clock::time_point>(it->second);
  }

private:
  std::chrono::duration<double> timeout_;
  std::string self_;
  std::map<std::string, clock::time_point> last_;
  std::set<std::string> lost_;
};

} // namespace troupe::ps
