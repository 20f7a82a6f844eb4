#include "bandit/runner.hpp"

#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "bandit/host_actor.hpp"
#include "bandit/protocol.hpp"
#include "bandit/server_actor.hpp"
#include "common/error.hpp"
#include "net/codec.hpp"
#include "net/van.hpp"

namespace troupe::bandit {

namespace {

using std::chrono::milliseconds;

struct local_node {
  const config::node_spec* spec = nullptr;
  std::shared_ptr<net::van> van;
  std::shared_ptr<metrics_log> log;
  std::map<std::string, std::shared_ptr<mailbox>> boxes; ///< actor name -> mailbox
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

milliseconds seconds_to_ms(double s) {
  return milliseconds(static_cast<long long>(s * 1000.0));
}

/// The first failure of any local actor; later ones are consequences.
class failure {
public:
  void set(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (first_.empty())
      first_ = what;
    flag_.store(true);
  }
  const std::atomic<bool>* flag() const { return &flag_; }
  const std::string& first() const { return first_; }

private:
  std::mutex mu_;
  std::string first_;
  std::atomic<bool> flag_{false};
};

} // namespace

std::optional<run_result> run_bandit_nodes(const config::bandit_spec& spec, const runner_options& o) {
  TROUPE_ENFORCE(!o.nodes.empty(), "no node to run");
  const auto& cluster = spec.cluster;
  std::string server_node;
  std::vector<std::string> host_nodes; // rank -> node, ranks in node order
  for (const auto& n : cluster.nodes) {
    if (config::has_role(n, config::role::aggregator))
      server_node = n.name;
    for (std::size_t i = 0; i < n.trainers; ++i)
      host_nodes.push_back(n.name);
  }

  // One van per local node, sharing a ZeroMQ context so inproc:// works between them.
  net::context zctx = net::context::create();
  std::vector<local_node> locals;
  for (const auto& name : o.nodes) {
    local_node ln;
    ln.spec = &find_node(spec, name);
    for (const auto& other : locals)
      TROUPE_ENFORCE(other.spec != ln.spec, "node '{}' is listed twice", name);
    if (config::has_role(*ln.spec, config::role::aggregator))
      ln.boxes[server_actor] = std::make_shared<mailbox>();
    for (std::size_t rank = 0; rank < host_nodes.size(); ++rank)
      if (host_nodes[rank] == name)
        ln.boxes[host_actor(rank)] = std::make_shared<mailbox>();
    net::van_options vo;
    vo.node_name = name;
    vo.cluster_id = net::cluster_id_of(cluster.id);
    vo.ctx = zctx;
    vo.on_reject = [name](const std::string& peer, const net::decode_error& e) {
      std::cerr << fmt::format("fed-bandit [{}]: rejected a message from '{}': {}\n", name, peer, e.detail);
    };
    ln.van = std::make_shared<net::van>(vo);
    ln.van->set_handler([boxes = ln.boxes, name](net::message&& m) {
      try {
        const std::string to = destination(m);
        if (auto it = boxes.find(to); it != boxes.end())
          return it->second->push(std::move(m));
        std::cerr << fmt::format("fed-bandit [{}]: dropped {} from '{}' for unknown actor '{}'\n", name,
                                 net::to_string(m.h.type), m.h.sender, to);
      } catch (const error& e) {
        std::cerr << fmt::format("fed-bandit [{}]: dropped a message: {}\n", name, e.what());
      }
    });
    ln.log = std::make_shared<metrics_log>(spec.metrics_dir, name);
    locals.push_back(std::move(ln));
  }

  // Bind every local node first (ephemeral ports resolve here), then connect everyone to everyone.
  std::map<std::string, std::string> endpoints;
  for (const auto& n : cluster.nodes)
    endpoints[n.name] = n.endpoint;
  for (auto& ln : locals)
    endpoints[ln.spec->name] = ln.van->bind(ln.spec->endpoint);
  for (const auto& n : cluster.nodes)
    if (n.address.ephemeral() && endpoints[n.name] == n.endpoint)
      throw error(fmt::format("{}: node '{}' has the ephemeral endpoint {}: only possible when every node runs in "
                              "this process",
                              n.where, n.name, n.endpoint));
  for (auto& ln : locals)
    for (const auto& n : cluster.nodes)
      ln.van->connect(n.name, endpoints[n.name]);

  failure failed;
  std::optional<run_result> result;
  std::vector<std::unique_ptr<actor_link>> links;
  std::vector<std::thread> threads;
  auto link_for = [&](const local_node& ln, const std::string& actor) {
    auto l = std::make_unique<actor_link>();
    l->node = ln.spec->name;
    l->van = ln.van;
    l->inbox = ln.boxes.at(actor);
    l->log = ln.log;
    l->server_node = server_node;
    l->host_nodes = host_nodes;
    l->join_timeout = seconds_to_ms(cluster.connect_timeout_s);
    l->silence_timeout = 2 * l->join_timeout;
    l->hello_interval = seconds_to_ms(cluster.heartbeat_s);
    l->stop = o.stop;
    l->abort = failed.flag();
    l->console = spec.console ? o.out : nullptr;
    links.push_back(std::move(l));
    return links.back().get();
  };
  // Each actor on its own thread; the first failure stops the others on this process.
  auto guarded = [&failed](auto body) {
    return [&failed, body] {
      try {
        body();
      } catch (const stop_signal&) {
      } catch (const std::exception& e) {
        failed.set(e.what());
      }
    };
  };
  for (auto& ln : locals) {
    if (ln.boxes.count(server_actor))
      threads.emplace_back(
          guarded([&spec, &result, l = link_for(ln, server_actor)] { result = run_server(spec.bandit, *l); }));
    for (std::size_t rank = 0; rank < host_nodes.size(); ++rank)
      if (host_nodes[rank] == ln.spec->name)
        threads.emplace_back(
            guarded([&spec, rank, l = link_for(ln, host_actor(rank))] { run_host(spec.bandit, *l, rank); }));
  }
  for (auto& t : threads)
    t.join();
  for (auto& ln : locals)
    ln.van->stop();
  if (failed.flag()->load())
    throw error(failed.first());
  return result;
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
