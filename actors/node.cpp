#include "actors/node.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>

#include <caf/all.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/aggregator_actor.hpp"
#include "actors/loader_actor.hpp"
#include "actors/messages.hpp"
#include "actors/metrics_actor.hpp"
#include "actors/protocol.hpp"
#include "actors/restart_policy.hpp"
#include "actors/trainer_actor.hpp"
#include "common/error.hpp"
#include "net/curve.hpp"
#include "observe/prometheus.hpp"

namespace troupe::actors {

namespace {

/// Local actors by name. Messages for an actor that is not spawned yet wait here (bounded), so
/// nodes may start in any order without losing the first messages.
class registry {
public:
  explicit registry(std::string node) : node_(std::move(node)) {}

  void deliver(const std::string& to, inbound in) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = actors_.find(to); it != actors_.end()) {
      caf::anon_send(it->second, std::move(in));
      return;
    }
    auto& q = pending_[to];
    if (q.size() >= max_pending) {
      std::cerr << fmt::format("troupe-node [{}]: dropped {} for unknown actor '{}' (queue full)\n", node_,
                               net::to_string(in.msg->h.type), to);
      return;
    }
    q.push_back(std::move(in));
  }

  void add(const std::string& name, caf::actor a) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& in : pending_[name])
      caf::anon_send(a, std::move(in));
    pending_.erase(name);
    actors_[name] = std::move(a);
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    actors_.clear();
    pending_.clear();
  }

private:
  static constexpr std::size_t max_pending = 4096;
  std::string node_;
  std::mutex mutex_;
  std::map<std::string, caf::actor> actors_;
  std::map<std::string, std::vector<inbound>> pending_;
};

struct local_node {
  const config::node_spec* spec = nullptr;
  std::shared_ptr<registry> reg;
  std::shared_ptr<net::van> van;
  std::shared_ptr<node_context> ctx;
  std::string bound;                 ///< actual endpoint
  std::vector<caf::actor> workers;   ///< aggregator, loader, trainers (restarted ones appended)
  std::map<caf::actor_addr, std::size_t> trainer_ranks;  ///< supervised: trainer actor -> rank
  caf::actor_addr loader;                                ///< supervised: restarted alone on failure
  caf::actor_addr aggregator;                            ///< supervised: restarted alone, from the newest checkpoint
  std::unique_ptr<restart_policy> policy;                ///< this node's supervisor over its trainers
};

/// A trainer restart waiting for its backoff to pass.
struct pending_restart {
  std::chrono::steady_clock::time_point due;
  std::size_t node = 0, rank = 0;
  double failed_at = 0;  ///< wall time of the failure
  double backoff_s = 0;
  caf::actor_addr old;   ///< a sibling taken down with it: the new incarnation waits until this one is gone
  std::string cause;     ///< the trainer whose failure caused this restart
  std::string kind = "trainer";  ///< or loader_name / aggregator_name: what to spawn
};

/// The healthy trainers of `ln` a failure of `rank` takes down with it under `strategy`:
/// none (one_for_one), all others (one_for_all), or those started after it, i.e. higher ranks (rest_for_one).
std::vector<std::pair<caf::actor_addr, std::size_t>> siblings_to_restart(const local_node& ln, std::size_t rank,
                                                                          const std::string& strategy) {
  std::vector<std::pair<caf::actor_addr, std::size_t>> out;
  if (strategy == "one_for_one")
    return out;
  for (const auto& [addr, r] : ln.trainer_ranks)
    if (r != rank && (strategy == "one_for_all" || r > rank))
      out.emplace_back(addr, r);
  return out;
}

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool ephemeral(const std::string& endpoint) {
  return endpoint.rfind("tcp://", 0) == 0 &&
         (endpoint.size() >= 2 && (endpoint.substr(endpoint.size() - 2) == ":*" || endpoint.substr(endpoint.size() - 2) == ":0"));
}

/// Every heartbeat interval, each local node tells the aggregator it is alive. The node runtime
/// sends them, not the trainers, so a trainer busy computing never looks dead.
void send_heartbeats(std::vector<local_node>& locals, const placement& where, double interval_s) {
  static thread_local std::chrono::steady_clock::time_point last{};
  const auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::duration<double>(interval_s))
    return;
  last = now;
  for (auto& ln : locals)
    if (ln.spec->name != where.aggregator_node)
      ln.ctx->send(where.aggregator_node, make_message(net::msg_type::heartbeat, aggregator_name, {}));
}

/// Every `period`, one "transport" record per local node with its van's counters.
void report_transport(std::vector<local_node>& locals, std::chrono::seconds period) {
  static thread_local std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  const auto now = std::chrono::steady_clock::now();
  if (now - last < period)
    return;
  last = now;
  for (auto& ln : locals) {
    const auto c = ln.van->counters();
    auto r = make_record(ln.spec->name, "van", "transport", c.messages_received);
    r["messages_sent"] = c.messages_sent;
    r["bytes_sent"] = c.bytes_sent;
    r["messages_received"] = c.messages_received;
    r["bytes_received"] = c.bytes_received;
    r["rejected"] = c.rejected;
    auto by_reason = nlohmann::json::object();
    for (std::size_t i = 0; i < c.rejected_by_reason.size(); ++i)
      if (c.rejected_by_reason[i] != 0)
        by_reason[net::to_string(static_cast<net::decode_error::reason>(i))] = c.rejected_by_reason[i];
    r["rejected_by_reason"] = by_reason;
    r["send_failures"] = c.send_failures;
    if (!c.last_rejection.empty())
      r["last_rejection"] = c.last_rejection;
    ln.ctx->record(r.dump());
  }
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

} // namespace

int run_nodes(const config::topology& topo, const run_options& o) {
  std::ostream& out = o.out ? *o.out : std::cout;
  TROUPE_ENFORCE(!o.nodes.empty(), "no node to run");
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", o.scheduler_threads);
  caf::actor_system sys{cfg};
  const config::model_spec model = config::load_job_model(topo);
  const placement where = place(topo);
  const std::uint64_t cluster_id = net::cluster_id_of(topo.cluster.id);
  net::context zctx = net::context::create();
  // Prometheus: one registry for the process (the `node` label tells nodes apart), declared
  // before the exporter so that it outlives it.
  auto prom_registry = std::make_shared<observe::registry>();
  std::unique_ptr<observe::prometheus_exporter> exporter;
  if (topo.metrics.prometheus_port >= 0) {
    exporter = std::make_unique<observe::prometheus_exporter>(*prom_registry, topo.metrics.prometheus_host,
                                                              topo.metrics.prometheus_port);
    out << fmt::format("=> prometheus: http://{}:{}/metrics\n", topo.metrics.prometheus_host, exporter->port());
    if (o.on_prometheus_port)
      o.on_prometheus_port(exporter->port());
  }

  std::vector<local_node> locals;
  for (const auto& name : o.nodes) {
    local_node ln;
    ln.spec = &config::find_node(topo, name);
    ln.reg = std::make_shared<registry>(name);
    net::van_options vo;
    vo.node_name = name;
    vo.cluster_id = cluster_id;
    vo.ctx = zctx;
    vo.curve = curve_for(topo.cluster, *ln.spec);
    // A flood of bad messages must not become a flood of log lines: the first 20, then every 1000th.
    vo.on_reject = [name, seen = std::make_shared<std::atomic<std::uint64_t>>(0)](const std::string& peer,
                                                                                 const net::decode_error& e) {
      const std::uint64_t n = ++*seen;
      if (n <= 20 || n % 1000 == 0)
        std::cerr << fmt::format("troupe-node [{}]: rejected {} from '{}' ({}): {}{}\n", name,
                                 e.code == net::decode_error::unauthenticated ? "a connection" : "a message", peer,
                                 net::to_string(e.code), e.detail,
                                 n == 20 ? " (further rejections: every 1000th is shown)" : "");
    };
    ln.van = std::make_shared<net::van>(vo);
    ln.van->set_handler([reg = ln.reg, name](net::message&& m) {
      auto msg = std::make_shared<const net::message>(std::move(m));
      const auto meta = nlohmann::json::parse(msg->h.meta, nullptr, false);
      const auto to = meta.is_object() ? meta.find("to") : meta.end();
      if (to != meta.end() && to->is_string()) {
        reg->deliver(to->get<std::string>(), inbound{std::move(msg)});
        return;
      }
      if (to != meta.end() && to->is_array() && !to->empty() && to->size() <= 1024 &&
          std::all_of(to->begin(), to->end(), [](const auto& t) { return t.is_string(); })) {
        for (const auto& t : *to)  // one message for several local actors: all share it
          reg->deliver(t.get<std::string>(), inbound{msg});
        return;
      }
      std::cerr << fmt::format("troupe-node [{}]: {} from '{}' names no destination actor\n", name,
                               net::to_string(msg->h.type), msg->h.sender);
    });
    locals.push_back(std::move(ln));
  }

  // Bind every local node first (ephemeral ports resolve here), then connect everyone to everyone.
  std::map<std::string, std::string> endpoints;
  for (const auto& n : topo.cluster.nodes)
    endpoints[n.name] = n.endpoint;
  for (auto& ln : locals) {
    ln.bound = ln.van->bind(ln.spec->endpoint);
    endpoints[ln.spec->name] = ln.bound;
  }
  for (auto& ln : locals)
    for (const auto& n : topo.cluster.nodes) {
      if (ephemeral(endpoints[n.name]))
        throw error(fmt::format("{}: node '{}' has the ephemeral endpoint {}: only possible when every node runs in "
                                "this process (--role all)",
                                n.where, n.name, n.endpoint));
      ln.van->connect(n.name, endpoints[n.name]);
    }

  // Spawn the actors of each local node's roles.
  for (auto& ln : locals) {
    auto ctx = std::make_shared<node_context>();
    ctx->node = ln.spec->name;
    ctx->topo = topo;
    ctx->model = model;
    ctx->where = where;
    ctx->van = ln.van;
    const bool talks = topo.metrics.console && config::has_role(*ln.spec, config::role::aggregator);
    ctx->metrics = spawn_metrics(sys, {topo.metrics.dir, ln.spec->name, talks, &out,
                                       topo.metrics.prometheus_port >= 0 ? prom_registry : nullptr});
    ln.ctx = ctx;
    ln.policy = std::make_unique<restart_policy>(topo.cluster.supervisor, topo.job.seed + locals.size());
    if (config::has_role(*ln.spec, config::role::aggregator)) {
      auto a = spawn_aggregator(sys, ctx, o.fail_aggregator_at);
      ln.reg->add(aggregator_name, a);
      ln.workers.push_back(a);
      ln.aggregator = a.address();
    }
    if (config::has_role(*ln.spec, config::role::loader)) {
      auto a = spawn_loader(sys, ctx, o.fail_loader_after);
      ln.reg->add(loader_name, a);
      ln.workers.push_back(a);
      ln.loader = a.address();
    }
    for (std::size_t rank : where.ranks_on(ln.spec->name)) {
      trainer_options to;
      to.rank = rank;
      if (auto it = o.slow_trainers.find(rank); it != o.slow_trainers.end())
        to.slow_factor = it->second;
      if (auto it = o.fail_trainers.find(rank); it != o.fail_trainers.end())
        to.fail_at_clock = static_cast<std::int64_t>(it->second);
      auto a = spawn_trainer(sys, ctx, to);
      ln.reg->add(trainer_name(rank), a);
      ln.workers.push_back(a);
      ln.trainer_ranks[a.address()] = rank;
    }
  }

  // Wait for every worker; a signal or a failure stops the rest gracefully.
  int exit_code = 0;
  {
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
      for (auto& ln : locals)
        for (auto& w : ln.workers)
          caf::anon_send(w, stop_atom::value);
    };
    std::vector<pending_restart> restarts;
    // A failed trainer is restarted by its node's supervisor after a backoff, with its siblings as
    // the strategy says (one_for_one / one_for_all / rest_for_one); each new incarnation re-syncs
    // parameters and its clock from the aggregator. Any other failure, or too many
    // restarts within the period, escalates: the job stops and the node exits 1.
    // Records a failure of `target` on local node `i` against its restart intensity: either the
    // `failure` record and the backoff before the restart, or the `escalation` that stops the job.
    auto on_failure = [&](std::size_t i, const std::string& target, const caf::error& reason,
                          const std::function<void(nlohmann::json&)>& annotate) -> std::optional<double> {
      auto& ln = locals[i];
      const auto delay = ln.policy->on_failure(std::chrono::steady_clock::now());
      auto r = make_record(ln.spec->name, "supervisor", "supervisor", 0);
      r["target"] = target;
      r["reason"] = sys.render(reason);
      if (!delay) {
        r["event"] = "escalation";
        ln.ctx->record(r.dump());
        std::cerr << fmt::format("troupe-node [{}]: {} failed more than {} times within {} s; giving up\n",
                                 ln.spec->name, target, topo.cluster.supervisor.max_restarts,
                                 topo.cluster.supervisor.period_s);
        exit_code = 1;
        stop_all();
        return std::nullopt;
      }
      r["event"] = "failure";
      r["backoff_s"] = *delay;
      annotate(r);
      ln.ctx->record(r.dump());
      return delay;
    };
    auto due_after = [](double seconds) {
      return std::chrono::steady_clock::now() +
             std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
    };
    auto on_down = [&](const caf::down_msg& d) {
      --remaining;
      bool replaced = false;  // a sibling taken down by the supervisor (whatever its exit reason)
      for (auto& p : restarts)
        if (p.old && p.old == d.source) {
          p.old = caf::actor_addr();  // it is gone: its new incarnation may start
          replaced = true;
        }
      if (!d.reason || replaced)
        return;
      for (std::size_t i = 0; i < locals.size() && !stopping; ++i) {
        auto& ln = locals[i];
        // The loader and the aggregator are restarted alone. Trainers name the clock of every batch
        // they ask for and ask again when one does not come, so a new loader needs none of the old
        // one's state; a new aggregator resumes from the newest checkpoint and the trainers, who
        // hear nothing, say hello again and re-sync to it.
        for (auto* single : {&ln.loader, &ln.aggregator}) {
          if (!*single || *single != d.source || d.reason == caf::exit_reason::user_shutdown)
            continue;  // user_shutdown: the job itself ended in failure (nothing to restart)
          *single = caf::actor_addr();
          const std::string& what = single == &ln.loader ? loader_name : aggregator_name;
          if (auto delay = on_failure(i, what, d.reason, [](nlohmann::json&) {})) {
            std::cerr << fmt::format("troupe-node [{}]: the {} failed; restarting it in {:.2f} s\n", ln.spec->name,
                                     what, *delay);
            restarts.push_back({due_after(*delay), i, 0, wall_now(), *delay, {}, what, what});
          }
          return;
        }
        const auto it = ln.trainer_ranks.find(d.source);
        if (it == ln.trainer_ranks.end())
          continue;
        const std::size_t rank = it->second;
        ln.trainer_ranks.erase(it);
        const auto& strategy = topo.cluster.supervisor.strategy;
        const auto siblings = siblings_to_restart(ln, rank, strategy);
        auto also = nlohmann::json::array();
        for (const auto& [addr, sibling] : siblings)
          also.push_back(trainer_name(sibling));
        const auto delay = on_failure(i, trainer_name(rank), d.reason, [&](nlohmann::json& r) {
          r["strategy"] = strategy;
          r["also_restarting"] = also;
        });
        if (!delay)
          return;
        std::cerr << fmt::format("troupe-node [{}]: {} failed; restarting it{} in {:.2f} s ({})\n", ln.spec->name,
                                 trainer_name(rank), siblings.empty() ? std::string() : " and " + also.dump(), *delay,
                                 strategy);
        const auto due = due_after(*delay);
        restarts.push_back({due, i, rank, wall_now(), *delay, {}, trainer_name(rank)});
        for (const auto& [addr, sibling] : siblings) {
          ln.trainer_ranks.erase(addr);  // its exit is part of the restart, not a failure
          if (auto a = caf::actor_cast<caf::actor>(addr))
            caf::anon_send(a, restart_atom::value);
          restarts.push_back({due, i, sibling, wall_now(), *delay, addr, trainer_name(rank)});
        }
        return;
      }
      if (d.reason != caf::exit_reason::user_shutdown)  // that one has said why already
        std::cerr << fmt::format("troupe-node: an actor failed: {}\n", sys.render(d.reason));
      exit_code = 1;
      stop_all();
    };
    auto restart_due = [&] {
      const auto now = std::chrono::steady_clock::now();
      for (auto it = restarts.begin(); it != restarts.end();) {
        if (it->due > now || it->old || stopping) {
          it = stopping ? restarts.erase(it) : std::next(it);
          continue;
        }
        auto& ln = locals[it->node];
        caf::actor a;
        std::string target;
        if (it->kind == loader_name) {
          a = spawn_loader(sys, ln.ctx);
          target = loader_name;
          ln.loader = a.address();
        } else if (it->kind == aggregator_name) {
          a = spawn_aggregator(sys, ln.ctx);
          target = aggregator_name;
          ln.aggregator = a.address();
        } else {
          trainer_options to;
          to.rank = it->rank;
          if (auto s = o.slow_trainers.find(it->rank); s != o.slow_trainers.end())
            to.slow_factor = s->second;
          to.failed_at = it->failed_at;  // the test hook fires once: the new incarnation runs clean
          a = spawn_trainer(sys, ln.ctx, to);
          target = trainer_name(it->rank);
          ln.trainer_ranks[a.address()] = it->rank;
        }
        ln.reg->add(target, a);
        ln.workers.push_back(a);
        self->monitor(a);
        ++remaining;
        auto r = make_record(ln.spec->name, "supervisor", "supervisor", 0);
        r["event"] = "restart";
        r["target"] = target;
        r["backoff_s"] = it->backoff_s;
        r["cause"] = it->cause;
        ln.ctx->record(r.dump());
        it = restarts.erase(it);
      }
    };
    while (remaining > 0 || !restarts.empty()) {
      self->receive([&](caf::down_msg& d) { on_down(d); },
                    caf::after(std::chrono::milliseconds(100)) >> [&] {
                      if (o.stop && o.stop->load())
                        stop_all();
                      restart_due();
                      send_heartbeats(locals, where, topo.cluster.heartbeat_s);
                      report_transport(locals, std::chrono::seconds(5));
                    });
    }
    report_transport(locals, std::chrono::seconds(0));  // the final counters of each van
    for (auto& ln : locals) {
      ln.reg->clear();
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
