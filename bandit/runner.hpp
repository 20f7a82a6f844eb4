#pragma once
/// Runs nodes of a federated-bandit cluster in this process: every node of the file (one
/// process, inproc:// or tcp ephemeral ports) or some of them (separate processes over tcp://
/// or ipc:// endpoints from the YAML). Each node runs a van with a ROUTER at its endpoint and a
/// DEALER to every node; the server thread on the aggregator node, one host thread per trainer
/// actor; metrics go to <metrics dir>/<node>.jsonl.
///
/// This is what `troupe-node` calls for a bandit file:
///   run_fed_bandit(spec, nodes, std::cout, &stop_requested)
/// with `nodes` = every node name for `--role all`, otherwise the node picked by --role/--name.

#include <atomic>
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

/// Runs the local nodes until the run ends; returns the result when the server ran here (nothing
/// when it ran elsewhere or a stop was requested). Throws troupe::error with the first failure.
std::optional<run_result> run_bandit_nodes(const config::bandit_spec& spec, const runner_options& o);

/// run_bandit_nodes with errors printed to stderr; returns the exit code (0: done or stopped, 1: failed).
int run_fed_bandit(const config::bandit_spec& spec, const std::vector<std::string>& local_nodes, std::ostream& out,
                   const std::atomic<bool>* stop = nullptr);

} // namespace troupe::bandit
