#pragma once
/// The bandit server (aggregator role): a blocking actor on the server node's runtime.
///
///   joining ──(hello from all H hosts)──> running ──(no phase left)──> done
///      │ welcome each, reject a wrong digest   │ per phase: params to the hosts holding clients,
///      │                                       │ collect their push_gradient, eliminate, log
///      └── timeout: error                      └── shutdown {arm} to every host
///
/// ucb1: after joining, host 0 plays alone and reports its result (metrics message).
/// While it waits for hosts on other nodes, a node that sent nothing (not even its runtime's
/// heartbeat) for cluster.failure_timeout_s is lost: the run ends with an error naming it.
/// A hello, an upload or a reject from a node that does not run that host is refused and counted
/// (the node's refused_unauthorized), never believed.

#include <optional>

#include "bandit/actor_link.hpp"
#include "bandit/run_result.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

/// Runs the server to the end and returns the run's result; throws troupe::error on a timeout or a
/// failed host, stop_signal on a stop request. Every host is told to shut down in all cases.
run_result run_server(const config::bandit_params& p, const actor_link& link);

} // namespace troupe::bandit
