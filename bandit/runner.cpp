#include "bandit/runner.hpp"

#include <iostream>
#include <mutex>

#include <caf/all.hpp>
#include <fmt/format.h>

#include "bandit/host_actor.hpp"
#include "bandit/protocol.hpp"
#include "bandit/server_actor.hpp"
#include "common/error.hpp"
#include "config/topology.hpp"
#include "runtime/metrics_actor.hpp"
#include "runtime/node_host.hpp"
#include "runtime/node_reporter.hpp"

namespace troupe::bandit {

namespace {

using runtime::child_id;
using runtime::local_node;

/// What the actors of one run hand back: the server's result and the first failure (later ones
/// are its consequences).
struct run_outcome {
  std::mutex mu;
  std::optional<run_result> result;
  std::string failure;

  void fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (failure.empty())
      failure = what;
  }
};

const config::node_spec& find_node(const config::bandit_spec& spec, const std::string& name) {
  std::vector<std::string> names;
  for (const auto& n : spec.cluster.nodes) {
    if (n.name == name)
      return n;
    names.push_back(n.name);
  }
  throw error(fmt::format("{}: no node '{}' in the cluster (nodes: {})", spec.source, name, fmt::join(names, ", ")));
}

/// Who runs where: the server is the aggregator, client host `rank` is trainer `rank` (node order).
ps::placement placement_of(const config::cluster_spec& cluster) {
  ps::placement p;
  for (const auto& n : cluster.nodes) {
    if (config::has_role(n, config::role::aggregator))
      p.aggregator_node = n.name;
    for (std::size_t i = 0; i < n.trainers; ++i) {
      p.trainer_nodes.push_back(n.name);
      p.trainer_threads.push_back(1);
    }
  }
  return p;
}

/// The runtime's view of a bandit file: its cluster and its metrics settings.
config::topology topology_of(const config::bandit_spec& spec) {
  config::topology t;
  t.cluster = spec.cluster;
  t.metrics.dir = spec.metrics_dir;
  t.metrics.console = spec.console;
  t.source = spec.source;
  return t;
}

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<long long>(s * 1000.0));
}

/// Runs `body` as a blocking actor of node `ln`. An exception ends the actor with user_shutdown
/// (its supervisor escalates: the job ends) after reporting it: the first failure of the run, an
/// escalation record naming the actor, a line on stderr. A bandit actor is never restarted: a
/// host's clients and the server's session live only in it.
template <class Body>
caf::actor spawn_bandit_actor(caf::actor_system& sys, const local_node& ln, actor_link base, std::string name,
                              std::shared_ptr<run_outcome> outcome, Body body) {
  base.ctx = ln.ctx;
  return sys.spawn<caf::detached>([base, name, outcome, body](caf::blocking_actor* self) {
    actor_link link = base;
    link.self = self;
    try {
      body(link);
    } catch (const stop_signal&) {
    } catch (const std::exception& e) {
      outcome->fail(e.what());
      auto rec = runtime::make_record(link.node(), "supervisor", "supervisor", 0);
      rec.update({{"event", "escalation"},
                  {"target", name},
                  {"reason", e.what()},
                  {"detail", "a bandit actor is not restarted: the run ends"}});
      link.record(rec);
      link.warn(fmt::format("{} failed: {}", name, e.what()));
      self->fail_state(caf::make_error(caf::exit_reason::user_shutdown));
    }
  });
}

/// Creates local node `name`: its router (the actors placed on it), van (CURVE, cluster id and
/// admitted peers from the cluster), context and metrics actor.
local_node make_local(caf::actor_system& sys, const config::bandit_spec& spec, const config::topology& topo,
                      const ps::placement& where, const std::string& name, const net::context& zctx,
                      const runner_options& o) {
  local_node ln;
  ln.spec = &find_node(spec, name);
  ln.router = std::make_shared<runtime::router>(name, where.actors_on(name));
  ln.van = runtime::make_node_van(topo, *ln.spec, zctx, ln, where.aggregator_node);
  auto ctx = std::make_shared<runtime::node_context>();
  ctx->node = name;
  ctx->topo = topo;
  ctx->where = where;
  ctx->van = ln.van;
  ctx->routes = ln.router;
  const bool talks = spec.console && o.out != nullptr && name == where.aggregator_node;
  ctx->metrics = runtime::spawn_metrics(sys, {spec.metrics_dir, name, talks, o.out, nullptr});
  ln.ctx = ctx;
  return ln;
}

/// The supervisor of each local node and, through it, the server and the client hosts on it.
void start_actors(caf::actor_system& sys, std::vector<local_node>& locals, const config::bandit_spec& spec,
                  const runner_options& o, const runner_faults& faults, const std::shared_ptr<run_outcome>& outcome) {
  const auto& cluster = spec.cluster;
  actor_link base;
  base.server_node = locals.front().ctx->where.aggregator_node;
  base.host_nodes = locals.front().ctx->where.trainer_nodes;
  base.join_timeout = seconds_to_ms(cluster.connect_timeout_s);
  base.silence_timeout = 2 * base.join_timeout;
  base.hello_interval = seconds_to_ms(cluster.heartbeat_s);
  base.failure_timeout = seconds_to_ms(cluster.failure_timeout_s);
  base.console = spec.console && o.out != nullptr;
  base.stop = o.stop;
  config::supervisor_spec never_restart = cluster.supervisor;
  never_restart.max_restarts = 0; // a failure escalates: the run cannot resume without the actor's state
  for (auto& ln : locals) {
    auto* node = &ln;
    auto spawn = [&sys, node, base, outcome, &spec, &faults](const child_id& c, const runtime::start_info&) {
      caf::actor a;
      if (c.what == child_id::kind::aggregator) {
        a = spawn_bandit_actor(sys, *node, base, server_actor, outcome, [&spec, outcome](const actor_link& l) {
          auto r = run_server(spec.bandit, l);
          std::lock_guard<std::mutex> lock(outcome->mu);
          outcome->result = std::move(r);
        });
      } else {
        host_options h;
        h.rank = c.rank;
        if (auto it = faults.fail_hosts.find(c.rank); it != faults.fail_hosts.end())
          h.fail_at_phase = it->second;
        a = spawn_bandit_actor(sys, *node, base, host_actor(c.rank), outcome,
                               [&spec, h](const actor_link& l) { run_host(spec.bandit, l, h); });
      }
      node->router->add(c.name(), a);
      node->workers.push_back(a);
      return a;
    };
    ln.sup = std::make_unique<runtime::supervisor>(
        ln.spec->name, never_restart, spec.bandit.seed, spawn, [node](nlohmann::json r) {
          auto rec = runtime::make_record(node->spec->name, "supervisor", "supervisor", 0);
          rec.update(r);
          node->ctx->record(rec.dump());
        });
    if (config::has_role(*ln.spec, config::role::aggregator))
      ln.sup->start({child_id::kind::aggregator, 0});
    for (std::size_t rank : ln.ctx->where.ranks_on(ln.spec->name))
      ln.sup->start({child_id::kind::trainer, rank});
  }
}

/// A clean run's log holds only the run's records; refusals get one transport record per node.
void report_refusals(const std::vector<local_node>& locals) {
  for (const auto& ln : locals) {
    const auto rc = ln.router->counters();
    if (rc.refused_unknown_actor + rc.refused_full + rc.refused_no_recipient + ln.ctx->refused_unauthorized->load() +
            ln.van->counters().rejected >
        0)
      runtime::report_transport(*ln.ctx);
  }
}

} // namespace

std::optional<run_result> run_bandit_nodes(const config::bandit_spec& spec, const runner_options& o,
                                           const runner_faults& faults) {
  TROUPE_ENFORCE(!o.nodes.empty(), "no node to run");
  const config::topology topo = topology_of(spec);
  const ps::placement where = placement_of(spec.cluster);
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  net::context zctx = net::context::create(); // shared by the local vans, so inproc:// works between them
  std::vector<local_node> locals;
  for (const auto& name : o.nodes) {
    for (const auto& other : locals)
      TROUPE_ENFORCE(other.spec->name != name, "node '{}' is listed twice", name);
    locals.push_back(make_local(sys, spec, topo, where, name, zctx, o));
  }
  runtime::bind_and_connect(topo, locals);
  auto outcome = std::make_shared<run_outcome>();
  start_actors(sys, locals, spec, o, faults, outcome);
  const int exit_code = runtime::supervise(sys, locals, o.stop, spec.cluster.heartbeat_s, false);
  report_refusals(locals);
  runtime::shut_down(sys, locals);
  std::lock_guard<std::mutex> lock(outcome->mu);
  if (!outcome->failure.empty())
    throw error(outcome->failure);
  if (exit_code != 0)
    throw error("a bandit actor failed (see the messages above)");
  return outcome->result;
}

int run_fed_bandit(const config::bandit_spec& spec, const std::vector<std::string>& local_nodes, std::ostream& out,
                   const std::atomic<bool>* stop) {
  try {
    runner_options o;
    o.nodes = local_nodes;
    o.out = &out;
    o.stop = stop;
    run_bandit_nodes(spec, o);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fed-bandit: error: " << e.what() << '\n';
    return 1;
  }
}

} // namespace troupe::bandit
