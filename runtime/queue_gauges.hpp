#pragma once
/// Queue depths the actors of a node publish for its transport records (runtime/node_reporter.hpp):
/// each actor's mailbox and each trainer's prefetched batches. CAF 0.17 lets only an actor itself
/// read its mailbox (fifo_inbox::size() moves messages from the shared stack into the owner's
/// queue), so every actor sets its own gauge each time it handles a message; the reporter, on
/// another thread, reads them here.

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace troupe::runtime {

class queue_gauges {
public:
  struct reading {
    std::uint64_t depth = 0; ///< the latest value set
    std::uint64_t max = 0;   ///< the highest value set since the previous take()
  };

  /// Sets gauge `name` to `depth` and raises its high-water mark to it (any thread).
  void set(const std::string& name, std::uint64_t depth) {
    std::lock_guard<std::mutex> lk(mu_);
    auto& g = gauges_[name];
    g.depth = depth;
    g.max = std::max(g.max, depth);
  }

  /// Every gauge; each high-water mark then starts again from the latest value.
  std::map<std::string, reading> take() {
    std::lock_guard<std::mutex> lk(mu_);
    auto out = gauges_;
    for (auto& [name, g] : gauges_)
      g.max = g.depth;
    return out;
  }

private:
  std::mutex mu_;
  std::map<std::string, reading> gauges_;
};

} // namespace troupe::runtime
