#pragma once
/// The `cluster` section of a topology file: which nodes exist, what each runs and where it listens.

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "config/endpoint.hpp"
#include "config/launch.hpp"

namespace troupe::config {

class yaml_cursor;

/// What a node runs: the aggregator (parameter server; on several nodes, its shards), data loaders, trainers.
enum class role { aggregator, loader, trainer };

/// One process (or, with inproc, the only process) of the cluster.
struct node_spec {
  std::string name;        ///< unique; letters, digits, '_', '-', '.'
  std::vector<role> roles; ///< non-empty, no repeats, in the file's order
  std::string endpoint; ///< as written: inproc://name, tcp://host:port, ipc://path; tcp port 0 or '*' means ephemeral
  endpoint_address address; ///< `endpoint` parsed (host, port, ...)
  /// `endpoint: later`: a free place of an elastic launched job (cluster.launch.max_trainers) that a
  /// trainer process may take while the job runs; its endpoint comes from the rendezvous then.
  /// Trainer role only; nothing connects to it before it joins (address: a loopback placeholder).
  bool joins_later = false;
  std::size_t trainers = 0; ///< trainer actors on this node; >= 1 iff it has the trainer role (default 1 then)
  std::size_t threads = 1;  ///< compute threads per trainer
  /// `aggregator: {shards: K}`: aggregator shards on this node, each owning a contiguous range of
  /// the parameters (ps/shard_plan.hpp); 1 on the aggregator node unless set, 0 elsewhere.
  std::size_t shards = 0;
  std::string public_key; ///< CURVE public key (40 Z85 characters) from `troupe-node keygen`; empty if none
  std::string where;      ///< "file:line:col" of this node's entry, for later error messages
};

/// How nodes authenticate and encrypt their links (`cluster.security`).
///
/// CURVE (CurveZMQ: Curve25519 keys, authenticated encryption) covers every tcp:// and ipc:// link
/// when on. Each node then proves itself with the secret key in `<key_dir>/<node>.key`, and accepts
/// only the public keys the topology lists, each under its own node's name.
struct security_spec {
  /// As written: "auto" (the default) means on when some node listens on a non-loopback address.
  std::string curve_setting = "auto";
  bool curve = false;           ///< resolved
  std::string key_dir;          ///< absolute or relative to the working directory (resolved against the file)
  bool allow_plaintext = false; ///< with CURVE off, lets nodes listen on non-loopback addresses anyway
};

/// All nodes plus the timing the runtime needs to tell a slow node from a dead one.
/// How a node supervises its trainer actors (OTP-style): a failed trainer is restarted after an
/// exponential backoff with jitter, and it re-syncs parameters and its clock from the aggregator.
/// More than `max_restarts` failures within `period_s` escalate: the node exits non-zero.
/// The node's trainers are its children in rank order (the order they start in).
struct supervisor_spec {
  /// one_for_one: restart the failed trainer; one_for_all: restart every trainer of the node;
  /// rest_for_one: restart the failed trainer and those started after it (higher ranks on the node).
  std::string strategy = "one_for_one";
  std::size_t max_restarts = 3;
  double period_s = 60;
  double backoff_s = 0.5; ///< first restart delay; doubles per restart within the period
  double backoff_max_s = 10;
};

struct cluster_spec {
  std::string id;                ///< names the run: runs/<id>/...; letters, digits, '_', '-', '.'
  std::vector<node_spec> nodes;  ///< at least one aggregator (several: shards), one loader and one trainer
  double connect_timeout_s = 30; ///< how long a node waits for its peers at start-up
  double heartbeat_s = 1;        ///< interval between liveness messages
  /// A node silent this long is declared lost (peer_lost); default 2.5 heartbeats. The aggregator
  /// checks every min(heartbeat_s, failure_timeout_s / 10), so detection takes at most 1.1x this.
  double failure_timeout_s = 2.5;
  /// How long a trainer, the loader or another aggregator shard waits on a silent aggregator
  /// (shard) node before it gives up with an error: max(10 s, 2 x connect_timeout_s). A live shard
  /// answers every hello retry (every 3 heartbeats) and its node's runtime sends heartbeats, so
  /// only a node that is gone (or cut off) stays silent that long; a restarted one is back well
  /// within it.
  double aggregator_gone_after_s() const { return std::max(10.0, 2 * connect_timeout_s); }
  /// With job.on_trainer_loss: wait, how long the aggregator waits for a lost trainer node to come
  /// back (silent this long, counted from its last message) before it ends the job in failure,
  /// naming it; the checkpoint written at the end holds the job for a restart. Longer than
  /// failure_timeout_s; default 10 minutes (a supervisor's, Slurm's or Kubernetes' restart is back
  /// well within it).
  double trainer_gone_after_s = 600;
  supervisor_spec supervisor;
  security_spec security;
  /// `cluster.launch` / `cluster.rendezvous`: a job a cluster engine starts (docs/deploy.md). When
  /// the file has no `nodes`, `nodes` stays empty until the rendezvous fills it (`--role auto`).
  launch_spec launch;
};

/// Aggregator shards over all nodes (node_spec::shards summed).
std::size_t total_shards(const cluster_spec& cluster);

/// What a workload runs on its cluster, beyond the checks every cluster gets (names, endpoints,
/// timing, supervision, security): the roles its nodes may list. A cluster has exactly one
/// aggregator and at least one node of every other role the workload runs. The defaults are the
/// training workload's.
struct cluster_rules {
  std::vector<role> roles = {role::aggregator, role::loader, role::trainer}; ///< the roles a node may list
  /// The error for a role outside `roles`, e.g. "the bandit workload has no data loader; ..."
  /// (empty: a generic one that lists `roles`).
  std::string other_roles_note;
  std::size_t max_trainers = std::numeric_limits<std::size_t>::max(); ///< per node
  bool threads = true; ///< nodes may set `threads` (compute threads per trainer)
  /// Several nodes with the aggregator role: each runs aggregator shards (docs/sharding.md); the
  /// first in the file runs shard 0. False: exactly one.
  bool aggregator_shards = true;
};

/// Whether `e` only accepts connections from this machine (127.0.0.0/8, ::1, localhost, inproc, ipc).
bool is_loopback(const endpoint_address& e);

/// The CURVE public key at `c` (40 Z85 characters, as `troupe-node keygen` prints it); fails citing `c` otherwise.
std::string read_public_key(const yaml_cursor& c);

/// Where the key file of `node` is: <security.key_dir>/<node>.key.
std::string key_file_of(const cluster_spec& cluster, const std::string& node);

/// Whether `node` has role `r`.
bool has_role(const node_spec& node, role r);

/// "aggregator", "loader" or "trainer".
std::string to_string(role r);

/// Sum of `trainers` over all nodes: the number of trainer actors (and data-parallel replicas).
std::size_t total_trainers(const cluster_spec& cluster);

/// Reads and validates the `cluster` section at `c` (see parse_topology); errors cite positions through `c`.
/// A relative security.key_dir is resolved against `base_dir` (the topology file's directory); `rules`
/// says which roles the workload runs (training by default; see config/bandit_spec.hpp for the other).
cluster_spec read_cluster(const yaml_cursor& c, const std::string& base_dir = ".", const cluster_rules& rules = {});

} // namespace troupe::config
