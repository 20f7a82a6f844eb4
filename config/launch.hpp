#pragma once
/// Jobs whose processes a cluster engine starts (Slurm, MPI, torchrun, Kubernetes): which process
/// is which, and how they find each other.
///
/// Such a topology has no `cluster.nodes`. It has a `cluster.launch` section (and optionally
/// `cluster.rendezvous`), and every process runs `troupe-node --role auto`. Each reads its rank and
/// the world size from the launcher's environment (detect_launcher); rank 0 becomes node `agg`
/// (aggregator and loader) and serves the rendezvous; rank r >= 1 becomes trainer node `t<r-1>`.
/// Every process listens on a port of its own choosing and announces it at the rendezvous; once all
/// have, each receives the membership and runs the static topology it spells (nodes_override), so
/// a launched job is the same job as the equivalent hand-written topology.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace troupe::config {

class yaml_cursor;

/// `cluster.launch` plus `cluster.rendezvous`.
struct launch_spec {
  bool present = false;              ///< the file has a `cluster.launch` section
  std::string rendezvous;            ///< `cluster.rendezvous` as written (tcp://HOST:PORT); empty: from the environment
  std::string rendezvous_where;      ///< "file:line:col" of `cluster.rendezvous`, or of `cluster.launch`
  std::uint16_t port = 29500;        ///< rendezvous port when only the host comes from the launcher
  std::string interface;             ///< address this process listens on; empty: its address toward the rendezvous
  std::size_t trainers_per_node = 1; ///< trainer actors on each trainer process
  std::size_t threads = 1;           ///< compute threads per trainer
  double timeout_s = 300;            ///< how long the rendezvous waits for every process
  /// Elastic: trainer processes the job may have at most; those beyond the launched ones join while it
  /// runs (`troupe-node --role trainer`). 0: exactly the launched ones (world - 1).
  std::size_t max_trainers = 0;
  std::string max_trainers_where;                 ///< "file:line:col" of `cluster.launch.max_trainers`
  std::map<std::string, std::string> public_keys; ///< node name -> CURVE public key, when CURVE is on
};

/// Reads `cluster.launch` and `cluster.rendezvous` from the cluster section `c` (either may be absent).
launch_spec read_launch(const yaml_cursor& c);

/// What the launcher's environment says about this process.
struct launch_env {
  std::string launcher; ///< "slurm", "openmpi", "pmi", "torchrun", "kubernetes" or "troupe" (TROUPE_RANK)
  std::size_t rank = 0;
  std::size_t world = 0;
  std::string rendezvous;          ///< tcp://HOST:PORT the launcher implies (Slurm's first host, MASTER_ADDR), or empty
  std::string rendezvous_override; ///< TROUPE_RENDEZVOUS, which wins over the YAML and the launcher
  std::string evidence;            ///< the variables it was read from, e.g. "SLURM_PROCID=2 SLURM_NTASKS=4"
};

/// Looks a variable up: nullptr when it is not set. Tests pass a map; the program passes getenv.
using env_lookup = std::function<const char*(const char*)>;

/// Detects the launcher from `env`, first match wins: TROUPE_RANK + TROUPE_WORLD_SIZE, Slurm
/// (SLURM_PROCID, SLURM_NTASKS; the rendezvous host is the first of SLURM_JOB_NODELIST), Open MPI
/// (OMPI_COMM_WORLD_RANK/SIZE), PMI (PMI_RANK/PMI_SIZE), torchrun (RANK, WORLD_SIZE, MASTER_ADDR,
/// MASTER_PORT), Kubernetes (TROUPE_WORLD_SIZE with the pod ordinal at the end of HOSTNAME, plus
/// TROUPE_RANK_OFFSET). TROUPE_RENDEZVOUS=tcp://HOST:PORT overrides where the rendezvous is.
/// Where the rendezvous is: TROUPE_RENDEZVOUS, else `cluster.rendezvous`, else what the launcher
/// implies (see rendezvous_of).
/// Returns nothing when no launcher is found; throws troupe::error naming the variable when one is
/// found but its values are unusable (rank >= world, world < 2, not a number).
std::optional<launch_env> detect_launcher(const env_lookup& env, std::uint16_t default_port = 29500);

/// The rendezvous address for `env` and `launch` (TROUPE_RENDEZVOUS, then cluster.rendezvous, then
/// the launcher's); throws troupe::error saying how to give one when none is known.
std::string rendezvous_of(const launch_env& env, const launch_spec& launch);

/// Expands a Slurm host list ("node[01-03,07],gpu5") into host names, in order.
std::vector<std::string> expand_slurm_nodelist(const std::string& list);

/// The node name of `rank`: "agg" for 0, "t<rank-1>" for the others.
std::string launched_node_name(std::size_t rank);

/// One process of a launched job, as the rendezvous reports it.
struct launched_member {
  std::size_t rank = 0;
  std::string endpoint; ///< tcp://ADDRESS:PORT it listens on; empty: a free place (joins later)
};

/// How many processes a launched job has at most: 1 + cluster.launch.max_trainers, or `world`
/// when it is not elastic. Throws troupe::error naming the key if max_trainers < world - 1.
std::size_t max_world_of(const launch_spec& launch, std::size_t world);

/// The `cluster.nodes` value (a YAML flow sequence) of the static topology `members` spell, for
/// `--set cluster.nodes=...`; members must be ranks 0..n-1 in order. A member without an endpoint
/// is a free place of an elastic job (`endpoint: later`).
std::string nodes_override(const std::vector<launched_member>& members, const launch_spec& launch);

} // namespace troupe::config
