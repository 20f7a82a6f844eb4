#include "runtime/node_host.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include <caf/all.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include "common/error.hpp"
#include "net/curve.hpp"
#include "ps/protocol.hpp"
#include "runtime/messages.hpp"
#include "runtime/metrics_actor.hpp"
#include "runtime/node_reporter.hpp"

namespace troupe::runtime {

namespace {

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
    // Mode 0700 from the start (mkdir, not create-then-chmod): a node of another process starting at
    // the same moment must never find the directory open and refuse to listen in it.
    if (dir.has_parent_path())
      fs::create_directories(dir.parent_path());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      throw error(
          fmt::format("{}: cannot create the socket directory {}: {}", node.where, dir.string(), std::strerror(errno)));
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

/// The job is over: nothing is restarted any more, and trainers that missed the aggregator's
/// shutdown (a new incarnation started while it was sent) quit quietly instead of waiting for
/// a welcome that will never come.
bool end_of_job(std::vector<local_node>& locals) {
  for (auto& ln : locals) {
    ln.sup->stop_restarting();
    for (auto& t : ln.trainers)
      caf::anon_send(t, restart_atom::value);
  }
  return true;
}

} // namespace

std::shared_ptr<net::van> make_node_van(const config::topology& topo, const config::node_spec& spec,
                                        const net::context& zctx, local_node& ln, const std::string& aggregator_node) {
  net::van_options vo;
  vo.node_name = spec.name;
  vo.cluster_id = net::cluster_id_of(topo.cluster.id);
  vo.ctx = zctx;
  vo.curve = curve_for(topo.cluster, spec);
  for (const auto& n : topo.cluster.nodes)
    vo.known_peers.insert(n.name);
  // Every node of the cluster gets figures of its own in the transport records.
  vo.max_peer_entries = std::max(vo.max_peer_entries, vo.known_peers.size());
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
      if (n.joins_later)
        continue; // connected when it joins (connect_joined)
      if (ephemeral(endpoints[n.name]))
        throw error(fmt::format("{}: node '{}' has the ephemeral endpoint {}: only possible when every node runs in "
                                "this process (--role all)",
                                n.where, n.name, n.endpoint));
      ln.van->connect(n.name, endpoints[n.name]);
    }
}

void connect_joined(const config::topology& topo, std::vector<local_node>& locals, const std::string& node,
                    const std::string& endpoint) {
  const auto& spec = config::find_node(topo, node);
  TROUPE_ENFORCE(spec.joins_later, "node '{}' is not a free place of this job (its endpoint is {})", node,
                 spec.endpoint);
  for (auto& ln : locals)
    ln.van->connect(node, endpoint);
}

namespace {

/// The last record of each local node: how it ended (node_exit), so a run that failed after its
/// actors started says so in its metrics rather than just stopping mid-file.
void record_exit(const std::vector<local_node>& locals, int exit_code, const std::string& why, bool stopped) {
  const char* outcome = exit_code != 0 ? "failed" : stopped ? "stopped" : "done";
  for (const auto& ln : locals) {
    auto r = make_record(ln.spec->name, "node", "node", 0);
    r["event"] = "node_exit";
    r["exit_code"] = exit_code;
    r["outcome"] = outcome;
    r["reason"] = !why.empty() ? why : stopped ? "stopped by a signal" : "the job ended";
    ln.ctx->record(r.dump());
  }
}

} // namespace

/// Waits for every child of every local node; restarts failed ones through their supervisors; a
/// signal, an escalation or the end of the job stops the rest. Returns the exit code.
int supervise(caf::actor_system& sys, std::vector<local_node>& locals, const std::atomic<bool>* stop,
              double heartbeat_s, bool transport_records) {
  int exit_code = 0;
  std::string why; ///< the first failure that ends the node
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
        caf::anon_send(w, stop_atom::value);
    }
  };
  bool over = false;
  node_reporter reporter(heartbeat_s, std::chrono::seconds(5), transport_records);
  std::vector<const node_context*> contexts;
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
            if (v == supervisor::verdict::not_mine)
              continue;
            if (v == supervisor::verdict::escalate) {
              exit_code = 1;
              if (why.empty())
                why = fmt::format("node '{}': {} (last failure: {})", ln.spec->name, ln.sup->escalation(), rendered);
              stop_all();
            }
            return;
          }
          if (d.reason) {
            std::cerr << fmt::format("troupe-node: an actor failed: {}\n", rendered);
            if (why.empty())
              why = "an actor failed: " + rendered;
            exit_code = 1;
            stop_all();
          }
        },
        caf::after(std::chrono::milliseconds(100)) >>
            [&] {
              if (stop && stop->load())
                stop_all();
              if (!over &&
                  std::any_of(locals.begin(), locals.end(), [](const local_node& ln) { return ln.job_over->load(); }))
                over = end_of_job(locals);
              for (auto& ln : locals)
                for (auto& a : ln.sup->start_due(std::chrono::steady_clock::now())) {
                  self->monitor(a);
                  ++remaining;
                }
              reporter.tick(contexts, false);
            });
  }
  reporter.tick(contexts, true); // the final counters of each van
  record_exit(locals, exit_code, why, stopping && !over);
  return exit_code;
}

void shut_down(caf::actor_system& sys, std::vector<local_node>& locals) {
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
}

} // namespace troupe::runtime
