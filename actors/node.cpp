#include "actors/node.hpp"

#include <atomic>
#include <chrono>
#include <iostream>

#include <caf/actor_system_config.hpp>
#include <caf/all.hpp>

#include "actors/aggregator_actor.hpp"
#include "actors/loader_actor.hpp"
#include "actors/trainer_actor.hpp"
#include "common/dir_lock.hpp"
#include "common/error.hpp"
#include "config/job_fingerprint.hpp"
#include "observe/prometheus.hpp"
#include "ps/protocol.hpp"
#include "runtime/metrics_actor.hpp"
#include "runtime/node_host.hpp"

namespace troupe::actors {

namespace {

using runtime::child_id;
using runtime::local_node;

/// What every local node of this process shares.
struct node_shared {
  std::ostream* out = nullptr;
  config::model_spec model;
  ps::placement where;
  std::string fingerprint;
  net::context zctx;
  std::shared_ptr<observe::registry> prometheus; ///< null: no exporter
};

/// Starting and restarting a child are one path: the supervisor calls this for both.
caf::actor spawn_child(caf::actor_system& sys, local_node& ln, const run_options& o, const child_id& c,
                       const runtime::start_info& info) {
  caf::actor a;
  const bool first = info.failed_at == 0; // the test hooks fire once: a new incarnation runs clean
  switch (c.what) {
  case child_id::kind::aggregator:
    a = spawn_aggregator(sys, ln.ctx, c.rank, first && c.rank == o.fail_aggregator_shard ? o.fail_aggregator_at : -1,
                         info.failed_at);
    break;
  case child_id::kind::loader:
    a = spawn_loader(sys, ln.ctx, first ? o.fail_loader_after : -1, o.balance_replay);
    break;
  case child_id::kind::trainer: {
    trainer_options to;
    to.rank = c.rank;
    if (auto it = o.slow_trainers.find(c.rank); it != o.slow_trainers.end())
      to.slow_factor = it->second;
    to.transient_slow = o.transient_slow;
    if (auto it = o.fail_trainers.find(c.rank); first && it != o.fail_trainers.end())
      to.fail_at_clock = static_cast<std::int64_t>(it->second);
    to.failed_at = info.failed_at;
    to.push_after_backward = o.push_after_backward;
    a = spawn_trainer(sys, ln.ctx, to);
    ln.trainers.push_back(a);
    break;
  }
  }
  ln.router->add(c.name(), a);
  ln.workers.push_back(a);
  return a;
}

/// Creates local node `name`: its router, van, context, metrics actor and supervisor.
local_node make_local(caf::actor_system& sys, const config::topology& topo, const std::string& name,
                      const node_shared& shared) {
  local_node ln;
  ln.spec = &config::find_node(topo, name);
  ln.router = std::make_shared<runtime::router>(name, shared.where.actors_on(name));
  ln.van = runtime::make_node_van(topo, *ln.spec, shared.zctx, ln, shared.where.aggregator_node);
  auto ctx = std::make_shared<runtime::node_context>();
  ctx->node = name;
  ctx->topo = topo;
  ctx->model = shared.model;
  ctx->where = shared.where;
  ctx->van = ln.van;
  ctx->job_fingerprint = shared.fingerprint;
  ctx->steps = std::make_shared<std::vector<std::atomic<std::uint64_t>>>(shared.where.trainers());
  const bool talks = topo.metrics.console && config::has_role(*ln.spec, config::role::aggregator);
  ctx->metrics = runtime::spawn_metrics(sys, {topo.metrics.dir, name, talks, shared.out, shared.prometheus});
  ctx->routes = ln.router;
  ln.ctx = ctx;
  return ln;
}

/// Starts the supervisor of each local node and, through it, the actors of the node's roles.
void start_children(caf::actor_system& sys, std::vector<local_node>& locals, const run_options& o,
                    const config::topology& topo) {
  for (auto& ln : locals) {
    auto* node = &ln;
    ln.sup = std::make_unique<runtime::supervisor>(
        ln.spec->name, topo.cluster.supervisor, topo.job.seed + locals.size(),
        [&sys, node, &o](const child_id& c, const runtime::start_info& info) {
          return spawn_child(sys, *node, o, c, info);
        },
        [node](nlohmann::json r) {
          auto rec = runtime::make_record(node->spec->name, "supervisor", "supervisor", 0);
          rec.update(r);
          node->ctx->record(rec.dump());
        },
        [node](const child_id& c) { return c.what == child_id::kind::trainer ? node->ctx->steps_of(c.rank) : 0; });
    for (std::size_t shard : ln.ctx->where.shards_on(ln.spec->name))
      ln.sup->start({child_id::kind::aggregator, shard});
    if (config::has_role(*ln.spec, config::role::loader))
      ln.sup->start({child_id::kind::loader, 0});
    for (std::size_t rank : ln.ctx->where.ranks_on(ln.spec->name))
      ln.sup->start({child_id::kind::trainer, rank});
  }
}

} // namespace

int run_nodes(const config::topology& topo, const run_options& o) {
  TROUPE_ENFORCE(!o.nodes.empty(), "no node to run");
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", o.scheduler_threads);
  caf::actor_system sys{cfg};
  node_shared shared;
  shared.out = o.out ? o.out : &std::cout;
  shared.model = config::load_job_model(topo);
  shared.where = ps::place(topo);
  shared.fingerprint = config::fingerprint_of(topo, shared.model).to_wire();
  shared.zctx = net::context::create();
  // Prometheus: one registry for the process (the `node` label tells nodes apart), declared
  // before the exporter so that it outlives it.
  auto prom_registry = std::make_shared<observe::registry>();
  std::unique_ptr<observe::prometheus_exporter> exporter;
  if (topo.metrics.prometheus_port >= 0) {
    shared.prometheus = prom_registry;
    exporter = std::make_unique<observe::prometheus_exporter>(*prom_registry, topo.metrics.prometheus_host,
                                                              topo.metrics.prometheus_port);
    *shared.out << fmt::format("=> prometheus: http://{}:{}/metrics\n", topo.metrics.prometheus_host, exporter->port());
    if (o.on_prometheus_port)
      o.on_prometheus_port(exporter->port());
  }
  // One run per directory: a second run on the same checkpoint or metrics directory stops here,
  // naming the holder, before anything is written. Metrics locks are per node: the nodes of one
  // run share the directory, each writing its own log.
  std::vector<dir_lock> locks;
  for (const auto& name : o.nodes) {
    if (name == shared.where.aggregator_node)
      locks.emplace_back(topo.checkpoint.dir, "checkpoint.dir");
    else if (shared.where.hosts_shard(name)) // another node's aggregator shards: their own lock in the shared dir
      locks.emplace_back(topo.checkpoint.dir, "checkpoint.dir", "." + name + ".lock");
    locks.emplace_back(topo.metrics.dir, "metrics.dir", "." + name + ".lock");
  }
  std::vector<local_node> locals;
  for (const auto& name : o.nodes)
    locals.push_back(make_local(sys, topo, name, shared));
  runtime::bind_and_connect(topo, locals);
  if (o.joins) {
    std::lock_guard<std::mutex> lock(o.joins->m);
    o.joins->connect = [&topo, &locals](const std::string& node, const std::string& endpoint) {
      runtime::connect_joined(topo, locals, node, endpoint);
    };
  }
  start_children(sys, locals, o, topo);
  const int exit_code = runtime::supervise(sys, locals, o.stop, topo.cluster.heartbeat_s);
  if (o.joins) {
    std::lock_guard<std::mutex> lock(o.joins->m);
    o.joins->connect = nullptr;
  }
  runtime::shut_down(sys, locals);
  return exit_code;
}

} // namespace troupe::actors
