#pragma once
/// The nodes of a topology that run in this process: for each, its router, van, context and
/// supervisor; how they are wired (bind, then connect everyone to everyone; a plaintext ipc://
/// socket only in a directory no other user can enter) and how the process waits for them
/// (supervise: restarts, escalation, the end of the job, heartbeats and transport records).

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "config/topology.hpp"
#include "net/context.hpp"
#include "net/van.hpp"
#include "runtime/node_context.hpp"
#include "runtime/router.hpp"
#include "runtime/supervisor.hpp"

namespace troupe::runtime {

/// One node of the topology running in this process.
struct local_node {
  const config::node_spec* spec = nullptr;
  std::shared_ptr<runtime::router> router;
  std::shared_ptr<net::van> van;
  std::shared_ptr<runtime::node_context> ctx;
  std::unique_ptr<runtime::supervisor> sup;
  std::vector<caf::actor> workers;  ///< every incarnation started, for stop_all
  std::vector<caf::actor> trainers; ///< the trainer incarnations among them
  /// A shutdown from the aggregator passed through this node: the job is over.
  std::shared_ptr<std::atomic<bool>> job_over = std::make_shared<std::atomic<bool>>(false);
};

/// The van of local node `spec`: it admits only the cluster's nodes, logs refusals (bounded),
/// hands every message to the node's router, and notes when the aggregator ends the job.
std::shared_ptr<net::van> make_node_van(const config::topology& topo, const config::node_spec& spec,
                                        const net::context& zctx, local_node& ln, const std::string& aggregator_node);

/// Binds every local node (ephemeral ports resolve here), then connects everyone to everyone
/// (except the free places of an elastic job, `endpoint: later`: see connect_joined).
void bind_and_connect(const config::topology& topo, std::vector<local_node>& locals);

/// A trainer process took the free place `node` of an elastic job and listens at `endpoint`:
/// every local node connects to it (any thread). Throws troupe::error if `node` is not a free place.
void connect_joined(const config::topology& topo, std::vector<local_node>& locals, const std::string& node,
                    const std::string& endpoint);

/// Waits for every child of every local node; restarts failed ones through their supervisors; a
/// signal (`stop`), an escalation or the end of the job stops the rest. Returns the exit code.
/// `transport_records`: the periodic and final "transport" record of every local node.
int supervise(caf::actor_system& sys, std::vector<local_node>& locals, const std::atomic<bool>* stop,
              double heartbeat_s, bool transport_records = true);

/// After supervise(): stops every local node's metrics actor (its log complete) and van.
void shut_down(caf::actor_system& sys, std::vector<local_node>& locals);

} // namespace troupe::runtime
