#pragma once
/// The node runtime: runs some (or all) nodes of a topology in this process — their vans, the
/// actors of their roles and their metrics — until the job ends, a signal asks to stop, or an
/// actor fails.

#include <atomic>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/topology.hpp"
#include "ps/loader_core.hpp"
#include "ps/slowdown.hpp"

namespace troupe::actors {

/// Elastic jobs: how the rendezvous (on its own thread) connects this process's nodes to a trainer
/// process that took a free place. `connect` is set while the nodes run, empty before and after.
struct join_hook {
  std::mutex m;
  std::function<void(const std::string& node, const std::string& endpoint)> connect;
};

struct run_options {
  std::vector<std::string> nodes;                     ///< nodes of the topology to run here (all, for --role all)
  std::ostream* out = nullptr;                        ///< console (std::cout when null)
  std::map<std::size_t, double> slow_trainers;        ///< rank -> slow factor (test/benchmark hook)
  ps::transient_slowdown transient_slow;              ///< every trainer: a fraction of steps slower (hook)
  std::map<std::size_t, std::uint64_t> fail_trainers; ///< rank -> clock at which it throws once (test hook)
  std::int64_t fail_loader_after = -1;     ///< >= 0: the loader fails once at that many batch requests (test hook)
  std::int64_t fail_aggregator_at = -1;    ///< >= 0: the aggregator fails once it has applied that version (test hook)
  std::size_t fail_aggregator_shard = 0;   ///< which aggregator shard fail_aggregator_at applies to
  const std::atomic<bool>* stop = nullptr; ///< set by a signal handler: finish gracefully
  std::size_t scheduler_threads = 2;       ///< CAF scheduler threads (compute runs on its own threads)
  std::function<void(int)> on_prometheus_port; ///< told the exporter's port once it serves (tests)
  std::shared_ptr<join_hook> joins;            ///< elastic jobs: set while the nodes run (may be null)
  std::vector<ps::balance_cut> balance_replay; ///< cuts the loader uses as they are (--replay-balance)
  /// Benchmark hook: trainers push after the whole backward pass even with several aggregator
  /// shards (the behaviour before pushes overlapped backward), for side-by-side measurements.
  bool push_after_backward = false;
};

/// Runs until done; returns the process exit code: 0 when every local actor finished cleanly.
int run_nodes(const config::topology& topo, const run_options& o);

} // namespace troupe::actors
