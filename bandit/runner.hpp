#pragma once
/// Runs nodes of a federated-bandit cluster in this process on the shared runtime (runtime/):
/// every node of the file (one process, inproc:// or tcp ephemeral ports) or some of them
/// (separate processes over tcp:// or ipc:// endpoints from the YAML). Each local node gets what a
/// training node gets: a van from runtime::make_node_van (cluster id, admitted peers, CURVE when
/// cluster.security says so), a router that accepts only the actors placed on the node (bounded
/// parking), a metrics actor writing <metrics dir>/<node>.jsonl, heartbeats to the server's node,
/// and a supervisor over its actors: the server (aggregator role) and one client host per
/// trainer actor, each a CAF blocking actor. A bandit actor that fails is not restarted (its
/// clients' samples live only in it): the failure is recorded and the run ends.
///
/// This is what `troupe-node` calls for a bandit file:
///   run_fed_bandit(spec, nodes, std::cout, &stop_requested)
/// with `nodes` = every node name for `--role all`, otherwise the node picked by --role/--name.

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bandit/run_result.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

struct runner_options {
  std::vector<std::string> nodes;          ///< node names of spec.cluster to run here
  std::ostream* out = nullptr;             ///< progress lines of the server (null: quiet)
  const std::atomic<bool>* stop = nullptr; ///< set by a signal handler: stop gracefully
};

/// Faults the tests inject.
struct runner_faults {
  std::map<std::size_t, std::uint64_t> fail_hosts; ///< client host rank -> the phase at which it throws
};

/// Runs the local nodes until the run ends; returns the result when the server ran here (nothing
/// when it ran elsewhere or a stop was requested). Throws troupe::error with the first failure.
std::optional<run_result> run_bandit_nodes(const config::bandit_spec& spec, const runner_options& o,
                                           const runner_faults& faults = {});

/// run_bandit_nodes with errors printed to stderr; returns the exit code (0: done or stopped, 1: failed).
int run_fed_bandit(const config::bandit_spec& spec, const std::vector<std::string>& local_nodes, std::ostream& out,
                   const std::atomic<bool>* stop = nullptr);

} // namespace troupe::bandit
