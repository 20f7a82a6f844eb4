#pragma once
/// Who has been heard from lately: the last time anything arrived from each node, and which nodes
/// are declared lost (silent for longer than the failure timeout). A node's runtime sends
/// heartbeats independently of its actors' compute, so a slow trainer is never mistaken for a
/// gone one. Plain bookkeeping; the caller passes the time.

#include <algorithm>
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
  /// A node silent for longer than `limit`: its name and how long (the longest silence first).
  struct silence {
    std::string node;
    double silent_s = 0;
  };
  /// The one of `nodes` silent the longest, if that is longer than `limit` at `now`. Silence is
  /// counted from `since` at the earliest (the start of a wait), and from there for a node never
  /// heard from. For someone who needs every one of several peers (a trainer and its aggregator
  /// shards): one gone stalls it as surely as all of them.
  std::optional<silence> longest_silent(const std::vector<std::string>& nodes, clock::time_point since,
                                        clock::time_point now, std::chrono::duration<double> limit) const {
    std::optional<silence> out;
    for (const auto& node : nodes) {
      auto from = since;
      if (auto it = last_.find(node); it != last_.end())
        from = std::max(from, it->second);
      const double s = std::chrono::duration<double>(now - from).count();
      if (now - from > limit && (!out || s > out->silent_s))
        out = silence{node, s};
    }
    return out;
  }

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
