#include "actors/node.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>

#include <caf/all.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/aggregator_actor.hpp"
#include "actors/loader_actor.hpp"
#include "actors/trainer_actor.hpp"
#include "common/dir_lock.hpp"
#include "common/error.hpp"
#include "config/job_fingerprint.hpp"
#include "net/curve.hpp"
#include "observe/prometheus.hpp"
#include "ps/protocol.hpp"
#include "runtime/messages.hpp"
#include "runtime/metrics_actor.hpp"
#include "runtime/node_reporter.hpp"
#include "runtime/router.hpp"
#include "runtime/supervisor.hpp"

namespace troupe::actors {

namespace {

using runtime::child_id;

/// What every local node of this process shares.
struct node_shared {
  std::ostream* out = nullptr;
  config::model_spec model;
  ps::placement where;
  std::string fingerprint;
  net::context zctx;
  std::shared_ptr<observe::registry> prometheus;  ///< null: no exporter
};

/// One node of the topology running in this process.
struct local_node {
  const config::node_spec* spec = nullptr;
  std::shared_ptr<runtime::router> router;
  std::shared_ptr<net::van> van;
  std::shared_ptr<runtime::node_context> ctx;
  std::unique_ptr<runtime::supervisor> sup;
  std::vector<caf::actor> workers;   ///< every incarnation started, for stop_all
  std::vector<caf::actor> trainers;  ///< the trainer incarnations among them
  /// A shutdown from the aggregator passed through this node: the job is over.
  std::shared_ptr<std::atomic<bool>> job_over = std::make_shared<std::atomic<bool>>(false);
};

bool ephemeral(const std::string& endpoint) {
  return endpoint.rfind("tcp://", 0) == 0 && endpoint.size() >= 2 &&
         (endpoint.substr(endpoint.size() - 2) == ":*" || endpoint.substr(endpoint.size() - 2) == ":0");
}

/// The CURVE settings of local node `node`: its key pair from <key_dir>/<node>.key, checked against
/// the public key the topology lists for it, and every node's public key.
net::curve_options curve_for(const config::cluster_spec& cluster, const config::node_spec& node) {
  net::curve_options c;
  if (!cluster.security.curve)
    return c;
  c.enabled = true;
  const std::string path = config::key_file_of(cluster, node.name);
  c.own = net::read_key_file(path);
  if (c.own.public_key != node.public_key)
    throw error(fmt::format("{}: node '{}' lists public_key {}, but its key file {} holds the key pair of {}; copy "
                            "the public key from the key file into the topology, or use the right key_dir",
                            node.where, node.name, node.public_key, path, c.own.public_key));
  for (const auto& n : cluster.nodes)
    c.peers[n.name] = n.public_key;
  return c;
}

/// The van of local node `name`: it hands every message to the node's router, and notes when the
/// aggregator ends the job.
std::shared_ptr<net::van> make_van(const config::topology& topo, const config::node_spec& spec,
                                   const net::context& zctx, local_node& ln, const std::string& aggregator_node) {
  net::van_options vo;
  vo.node_name = spec.name;
  vo.cluster_id = net::cluster_id_of(topo.cluster.id);
  vo.ctx = zctx;
  vo.curve = curve_for(topo.cluster, spec);
  for (const auto& n : topo.cluster.nodes)
    vo.known_peers.insert(n.name);
  // A flood of bad messages must not become a flood of log lines: the first 20, then every 1000th.
  vo.on_reject = [name = spec.name, seen = std::make_shared<std::atomic<std::uint64_t>>(0)](
                     const std::string& peer, const net::decode_error& e) {
    const std::uint64_t n = ++*seen;
    if (n <= 20 || n % 1000 == 0)
      std::cerr << fmt::format("troupe-node [{}]: rejected {} from '{}' ({}): {}{}\n", name,
                               e.code == net::decode_error::unauthenticated ? "a connection" : "a message", peer,
                               net::to_string(e.code), e.detail,
                               n == 20 ? " (further rejections: every 1000th is shown)" : "");
  };
  auto van = std::make_shared<net::van>(vo);
  van->set_handler([router = ln.router, over = ln.job_over, aggregator_node](net::message&& m) {
    // The aggregator ends the job by telling everyone else to shut down (a shutdown *to* the
    // aggregator is a node stopping, not the end of the job).
    if (m.h.type == net::msg_type::shutdown && m.h.sender == aggregator_node &&
        std::find(m.h.to.begin(), m.h.to.end(), ps::aggregator_name) == m.h.to.end())
      over->store(true);
    router->route(std::move(m));
  });
  return van;
}

/// A plaintext ipc:// socket is only as private as its directory: it must be one that no other
/// local user can enter, or any of them could connect and push gradients. A directory that does
/// not exist yet is created 0700; one that others can enter is refused (unless CURVE guards the
/// links, or the topology says allow_plaintext).
void make_socket_dir_private(const config::cluster_spec& cluster, const config::node_spec& node) {
  namespace fs = std::filesystem;
  if (node.endpoint.rfind("ipc://", 0) != 0)
    return;
  fs::path dir = fs::path(node.endpoint.substr(6)).parent_path();
  if (dir.empty())
    dir = ".";
  if (!fs::exists(dir)) {
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  }
  if (cluster.security.curve || cluster.security.allow_plaintext)
    return;
  const auto p = fs::status(dir).permissions();
  if ((p & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none)
    throw error(fmt::format("{}: node '{}' would listen on {} in plaintext, but {} can be entered by other local users "
                            "(mode {:04o}): any of them could connect and push gradients. Put the sockets in a "
                            "directory of their own (Troupe creates a missing one with mode 0700), chmod 700 it, or "
                            "turn CURVE on (cluster.security.curve: on)",
                            node.where, node.name, node.endpoint, dir.string(), static_cast<unsigned>(p) & 0777U));
}

/// Binds every local node (ephemeral ports resolve here), then connects everyone to everyone.
void bind_and_connect(const config::topology& topo, std::vector<local_node>& locals) {
  std::map<std::string, std::string> endpoints;
  for (const auto& n : topo.cluster.nodes)
    endpoints[n.name] = n.endpoint;
  for (auto& ln : locals) {
    make_socket_dir_private(topo.cluster, *ln.spec);
    endpoints[ln.spec->name] = ln.van->bind(ln.spec->endpoint);
  }
  for (auto& ln : locals)
    for (const auto& n : topo.cluster.nodes) {
      if (ephemeral(endpoints[n.name]))
        throw error(fmt::format("{}: node '{}' has the ephemeral endpoint {}: only possible when every node runs in "
                                "this process (--role all)",
                                n.where, n.name, n.endpoint));
      ln.van->connect(n.name, endpoints[n.name]);
    }
}

/// Starting and restarting a child are one path: the supervisor calls this for both.
caf::actor spawn_child(caf::actor_system& sys, local_node& ln, const run_options& o, const child_id& c,
                       const runtime::start_info& info) {
  caf::actor a;
  const bool first = info.failed_at == 0;  // the test hooks fire once: a new incarnation runs clean
  switch (c.what) {
  case child_id::kind::aggregator:
    a = spawn_aggregator(sys, ln.ctx, first ? o.fail_aggregator_at : -1);
    break;
  case child_id::kind::loader:
    a = spawn_loader(sys, ln.ctx, first ? o.fail_loader_after : -1);
    break;
  case child_id::kind::trainer: {
    trainer_options to;
    to.rank = c.rank;
    if (auto it = o.slow_trainers.find(c.rank); it != o.slow_trainers.end())
      to.slow_factor = it->second;
    if (auto it = o.fail_trainers.find(c.rank); first && it != o.fail_trainers.end())
      to.fail_at_clock = static_cast<std::int64_t>(it->second);
    to.failed_at = info.failed_at;
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
  ln.van = make_van(topo, *ln.spec, shared.zctx, ln, shared.where.aggregator_node);
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
    if (config::has_role(*ln.spec, config::role::aggregator))
      ln.sup->start({child_id::kind::aggregator, 0});
    if (config::has_role(*ln.spec, config::role::loader))
      ln.sup->start({child_id::kind::loader, 0});
    for (std::size_t rank : ln.ctx->where.ranks_on(ln.spec->name))
      ln.sup->start({child_id::kind::trainer, rank});
  }
}

/// The job is over: nothing is restarted any more, and trainers that missed the aggregator's
/// shutdown (a new incarnation started while it was sent) quit quietly instead of waiting for
/// a welcome that will never come.
bool end_of_job(std::vector<local_node>& locals) {
  for (auto& ln : locals) {
    ln.sup->stop_restarting();
    for (auto& t : ln.trainers)
      caf::anon_send(t, runtime::restart_atom::value);
  }
  return true;
}

/// Waits for every child of every local node; restarts failed ones through their supervisors; a
/// signal, an escalation or the end of the job stops the rest. Returns the exit code.
int supervise(caf::actor_system& sys, std::vector<local_node>& locals, const run_options& o,
              const config::topology& topo) {
  int exit_code = 0;
  caf::scoped_actor self{sys};
  std::size_t remaining = 0;
  for (auto& ln : locals)
    for (auto& w : ln.workers) {
      self->monitor(w);
      ++remaining;
    }
  bool stopping = false;
  auto stop_all = [&] {
    if (stopping)
      return;
    stopping = true;
    for (auto& ln : locals) {
      ln.sup->stop_restarting();
      for (auto& w : ln.workers)
        caf::anon_send(w, runtime::stop_atom::value);
    }
  };
  bool over = false;
  runtime::node_reporter reporter(topo.cluster.heartbeat_s, std::chrono::seconds(5));
  std::vector<const runtime::node_context*> contexts;
  for (const auto& ln : locals)
    contexts.push_back(ln.ctx.get());
  auto idle = [&] {
    return std::all_of(locals.begin(), locals.end(), [](const local_node& ln) { return ln.sup->idle(); });
  };
  while (remaining > 0 || !idle()) {
    self->receive(
        [&](caf::down_msg& d) {
          --remaining;
          const auto rendered = sys.render(d.reason);
          for (auto& ln : locals) {
            const auto v = ln.sup->on_down(d.source, d.reason, rendered);
            if (v == runtime::supervisor::verdict::not_mine)
              continue;
            if (v == runtime::supervisor::verdict::escalate) {
              exit_code = 1;
              stop_all();
            }
            return;
          }
          if (d.reason) {
            std::cerr << fmt::format("troupe-node: an actor failed: {}\n", rendered);
            exit_code = 1;
            stop_all();
          }
        },
        caf::after(std::chrono::milliseconds(100)) >> [&] {
          if (o.stop && o.stop->load())
            stop_all();
          if (!over && std::any_of(locals.begin(), locals.end(), [](const local_node& ln) { return ln.job_over->load(); }))
            over = end_of_job(locals);
          for (auto& ln : locals)
            for (auto& a : ln.sup->start_due(std::chrono::steady_clock::now())) {
              self->monitor(a);
              ++remaining;
            }
          reporter.tick(contexts, false);
        });
  }
  reporter.tick(contexts, true);  // the final counters of each van
  return exit_code;
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
    locks.emplace_back(topo.metrics.dir, "metrics.dir", "." + name + ".lock");
  }
  std::vector<local_node> locals;
  for (const auto& name : o.nodes)
    locals.push_back(make_local(sys, topo, name, shared));
  bind_and_connect(topo, locals);
  start_children(sys, locals, o, topo);
  const int exit_code = supervise(sys, locals, o, topo);
  {
    caf::scoped_actor self{sys};
    for (auto& ln : locals) {
      ln.router->clear();
      self->monitor(ln.ctx->metrics);
      caf::anon_send_exit(ln.ctx->metrics, caf::exit_reason::user_shutdown);
    }
    for (std::size_t i = 0; i < locals.size(); ++i)
      self->receive([](caf::down_msg&) {});
  }
  for (auto& ln : locals)
    ln.van->stop();
  return exit_code;
}

} // namespace troupe::actors
