#pragma once
/// A node runtime's periodic duties, with their own timers: every heartbeat interval each local
/// node that is not the aggregator's tells the aggregator it is alive (the runtime sends them, not
/// the trainers, so a trainer busy computing never looks dead), and every local node's van probes
/// the round trip to every other node (net/peer_table.hpp); every `transport_period` one
/// "transport" record per local node with its van's and its router's counters, per peer too, and
/// its actors' queue depths (unless the workload asks for none: the bandit writes one itself,
/// only when something was refused).

#include <chrono>
#include <vector>

#include "runtime/node_context.hpp"

namespace troupe::runtime {

/// One "transport" record for `ctx`: its van's counters and its router's (refusals by reason), the
/// van's per peer (`peers`), and the mailbox and prefetch depths its actors published.
void report_transport(const node_context& ctx);

class node_reporter {
public:
  node_reporter(double heartbeat_s, std::chrono::seconds transport_period, bool transport = true)
      : heartbeat_(heartbeat_s), transport_period_(transport_period), transport_(transport) {}

  /// Does what is due; `final` reports the transport counters now, whatever the timer says.
  void tick(const std::vector<const node_context*>& nodes, bool final);

private:
  using clock = std::chrono::steady_clock;
  std::chrono::duration<double> heartbeat_;
  std::chrono::seconds transport_period_;
  bool transport_;
  clock::time_point last_heartbeat_{};
  clock::time_point last_transport_ = clock::now();
};

} // namespace troupe::runtime
