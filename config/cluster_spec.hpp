#pragma once
/// The `cluster` section of a topology file: which nodes exist, what each runs and where it listens.

#include <cstddef>
#include <string>
#include <vector>

#include "config/endpoint.hpp"

namespace troupe::config {

class yaml_cursor;

/// What a node runs: the one aggregator (parameter server), data loaders, trainers.
enum class role { aggregator, loader, trainer };

/// One process (or, with inproc, the only process) of the cluster.
struct node_spec {
  std::string name;         ///< unique; letters, digits, '_', '-', '.'
  std::vector<role> roles;  ///< non-empty, no repeats, in the file's order
  std::string endpoint;     ///< as written: inproc://name, tcp://host:port, ipc://path; tcp port 0 or '*' means ephemeral
  endpoint_address address; ///< `endpoint` parsed (host, port, ...)
  std::size_t trainers = 0; ///< trainer actors on this node; >= 1 iff it has the trainer role (default 1 then)
  std::size_t threads = 1;  ///< compute threads per trainer
  std::string where;        ///< "file:line:col" of this node's entry, for later error messages
};

/// All nodes plus the timing the runtime needs to tell a slow node from a dead one.
/// How a node supervises its trainer actors (OTP-style): a failed trainer is restarted after an
/// exponential backoff with jitter, and it re-syncs parameters and its clock from the aggregator.
/// More than `max_restarts` failures within `period_s` escalate: the node exits non-zero.
struct supervisor_spec {
  std::string strategy = "one_for_one";  ///< only one_for_one is implemented
  std::size_t max_restarts = 3;
  double period_s = 60;
  double backoff_s = 0.5;       ///< first restart delay; doubles per restart within the period
  double backoff_max_s = 10;
};

struct cluster_spec {
  std::string id;                ///< names the run: runs/<id>/...; letters, digits, '_', '-', '.'
  std::vector<node_spec> nodes;  ///< exactly one aggregator, at least one loader and one trainer
  double connect_timeout_s = 30; ///< how long a node waits for its peers at start-up
  double heartbeat_s = 1;        ///< interval between liveness messages
  supervisor_spec supervisor;
};

/// Whether `node` has role `r`.
bool has_role(const node_spec& node, role r);

/// "aggregator", "loader" or "trainer".
std::string to_string(role r);

/// Sum of `trainers` over all nodes: the number of trainer actors (and data-parallel replicas).
std::size_t total_trainers(const cluster_spec& cluster);

/// Reads and validates the `cluster` section at `c` (see parse_topology); errors cite positions through `c`.
cluster_spec read_cluster(const yaml_cursor& c);

} // namespace troupe::config
