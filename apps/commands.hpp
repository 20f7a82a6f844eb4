#pragma once
/// The subcommands of `troupe-node`, one file each; troupe_node_main.cpp dispatches on argv[1].
///
/// Each command takes its own argv with argv[0] the subcommand's name (the program's name for the
/// node run) and returns the process exit status: 0 done, 1 an error (the message says what and
/// where), 2 bad command-line usage.

#include <atomic>
#include <string>
#include <vector>

#include "config/cluster_spec.hpp"
#include "config/yaml_override.hpp"

namespace troupe::apps {

/// Set once SIGINT or SIGTERM arrived, after catch_stop_signals(); long runs poll it and stop gracefully.
std::atomic<bool>& stop_requested();

/// From now on SIGINT and SIGTERM set stop_requested() instead of killing the process.
void catch_stop_signals();

/// `troupe-node --role ROLE --config FILE [--name N] [--set k=v]... [test hooks]`: runs nodes of a topology.
int run_command(int argc, char** argv);

/// `troupe-node keygen --name NODE [--dir keys] [--force]`: a CURVE key pair for one node.
int keygen_command(int argc, char** argv);

/// `troupe-node watch <metrics dir> [--once] [--interval s]`: live view of a run's metrics logs.
int watch_command(int argc, char** argv);

/// `troupe-node report <run dir> [-o report.html]`: a self-contained HTML report.
int report_command(int argc, char** argv);

/// `troupe-node timeline <run dir> [-o timeline.json]`: a Perfetto / Chrome-trace timeline.
int timeline_command(int argc, char** argv);

/// The run of a federated-bandit file (one with a top-level `bandit` section; docs/fed_bandit.md),
/// called by run_command after its usage checks; throws troupe::error on a bad file or usage.
/// `slow_trainer_given`: --slow-trainer was passed, which only training topologies take.
int run_bandit(const std::string& config_path, const std::vector<config::override_kv>& overrides,
               const std::string& role, const std::string& name, bool slow_trainer_given, bool fail_trainer_given);

/// The nodes this process runs: every node (--role all), the one named, or the only one with the role.
std::vector<std::string> pick_nodes(const config::cluster_spec& cluster, const std::string& source,
                                    const std::string& role, const std::string& name);

} // namespace troupe::apps
