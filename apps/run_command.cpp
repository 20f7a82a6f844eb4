// The node run: `troupe-node --role ROLE --config FILE [--name N] [--set k=v]... [test hooks]`.
//
// Reads the topology (or hands a federated-bandit file to run_bandit), checks the inputs the
// chosen nodes read, and runs them until the job ends or SIGINT/SIGTERM stops it.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "actors/node.hpp"
#include "apps/commands.hpp"
#include "common/error.hpp"
#include "config/launch.hpp"
#include "config/topology.hpp"
#include "data/dataset.hpp"
#include "net/curve.hpp"
#include "ps/protocol.hpp"
#include "runtime/rendezvous.hpp"
#include "tensor/blas.hpp"
#include "tensor/ops/conv2d.hpp"
#include "train/process_tuning.hpp"

namespace troupe::apps {

namespace {

bool has_role(const config::node_spec& n, const std::string& role) {
  for (auto r : n.roles)
    if (config::to_string(r) == role)
      return true;
  return false;
}

/// "RANK=VALUE" of a test-hook flag, strictly: an integer rank, a number value (positive and finite if floating).
template <class Value>
std::pair<std::size_t, Value> parse_rank_value(const std::string& text, const char* flag, const char* form) {
  const auto bad = [&] { return error(fmt::format("{} {}: expected {}", flag, text, form)); };
  const auto eq = text.find('=');
  if (eq == std::string::npos)
    throw bad();
  std::size_t rank = 0;
  Value value{};
  const char* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), text.data() + eq, rank);
  const auto v = std::from_chars(text.data() + eq + 1, end, value);
  if (eq == 0 || r.ec != std::errc() || r.ptr != text.data() + eq || v.ec != std::errc() || v.ptr != end)
    throw bad();
  if constexpr (std::is_floating_point_v<Value>)
    if (!(value > 0) || !std::isfinite(value))
      throw bad();
  return {rank, value};
}

/// Before any actor starts (and writes logs): the model file and, for an aggregator or a loader here,
/// the data set they read; errors cite where the topology names the input.
void check_inputs(const config::topology& topo, const std::vector<std::string>& nodes) {
  // The data set is Fashion-MNIST (data::load_fashion_mnist): 1 x 28 x 28 images of 10 classes.
  const auto model = config::load_job_model(topo);
  std::size_t values = 1;
  for (auto d : model.input_shape)
    values *= d;
  if (values != 28 * 28)
    throw error(fmt::format("{}: job.model: {}: input [{}] holds {} values per sample, but the data set's "
                            "images are 1 x 28 x 28 (784 values); write input: [1, 28, 28]",
                            topo.job.model_where, topo.job.model, fmt::join(model.input_shape, ", "), values));
  if (model.loss == "softmax_cross_entropy" && config::num_outputs(model) < 10)
    throw error(fmt::format("{}: job.model: {}: the model outputs {} class scores, but the data set has 10 "
                            "classes; end the model with dense: {{units: 10}}",
                            topo.job.model_where, topo.job.model, config::num_outputs(model)));
  bool aggregator = false, loader = false;
  for (const auto& n : nodes) {
    aggregator = aggregator || has_role(config::find_node(topo, n), "aggregator");
    loader = loader || has_role(config::find_node(topo, n), "loader");
  }
  if (!aggregator && !loader)
    return;
  config::check_data_dir(topo);
  try {
    if (aggregator)
      data::check_fashion_mnist(topo.job.data.dir, false); // the test split it evaluates on
    if (loader)
      data::check_fashion_mnist(topo.job.data.dir, true);
  } catch (const error& e) {
    const auto& where = topo.job.data.dir_where.empty() ? topo.source : topo.job.data.dir_where;
    throw error(fmt::format("{}: job.data.dir: {}", where, e.what()));
  }
}

/// Whether the file has a top-level `bandit` section: the federated-bandit workload (docs/fed_bandit.md).
/// --replay-balance: the cuts a run's loader recorded (`balance` records of its node's JSONL
/// file), the last of each period: after a resume a period may have been cut again.
std::vector<ps::balance_cut> recorded_cuts(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw error(fmt::format("--replay-balance {}: cannot read it", path));
  std::map<std::uint64_t, nlohmann::json> last;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    const auto rec = nlohmann::json::parse(line, nullptr, false);
    if (!rec.is_object())
      throw error(fmt::format("--replay-balance {}:{}: not a JSON record", path, n));
    if (rec.value("event", "") != "balance")
      continue;
    const nlohmann::json cut{{"from_clock", rec.value("from_clock", nlohmann::json())},
                             {"shares", rec.value("shares", nlohmann::json())},
                             {"weights", rec.value("samples_per_s", nlohmann::json())}};
    ps::balance_cuts_from_json(nlohmann::json::array({cut}), fmt::format("--replay-balance {}:{}", path, n));
    last[cut["from_clock"].get<std::uint64_t>()] = cut;
  }
  nlohmann::json all = nlohmann::json::array();
  for (const auto& [from, cut] : last)
    all.push_back(cut);
  if (all.empty())
    throw error(fmt::format("--replay-balance {}: no `balance` records (the loader node's file of a run with "
                            "job.balance: speed)",
                            path));
  return ps::balance_cuts_from_json(all, "--replay-balance " + path);
}

bool is_bandit_file(const std::string& config_path) {
  try {
    return static_cast<bool>(YAML::LoadFile(config_path)["bandit"]);
  } catch (const YAML::Exception&) {
    return false; // the real loader reports the syntax error with its position
  }
}

/// A process of a launched job after its rendezvous: the static topology the membership spells,
/// this process's node, and (rank 0 of an elastic job) the rendezvous, which keeps serving joins.
struct launched_process {
  config::topology topo;
  std::string name;
  std::unique_ptr<runtime::rendezvous_server> server;
};

/// The rendezvous settings of node `name` (CURVE from the topology's security and cluster.launch).
runtime::rendezvous_options rendezvous_for(const config::topology& base, const std::string& address,
                                           const std::string& name, std::size_t world, std::size_t max_world) {
  const auto& launch = base.cluster.launch;
  runtime::rendezvous_options ro;
  ro.cluster_id = base.cluster.id;
  ro.address = address;
  ro.world = world;
  ro.max_world = max_world;
  ro.timeout_s = launch.timeout_s;
  const auto& sec = base.cluster.security;
  const bool loopback = runtime::local_address_toward(address) == "127.0.0.1";
  ro.curve.enabled = sec.curve_setting == "on" || (sec.curve_setting == "auto" && !loopback);
  if (!ro.curve.enabled)
    return ro;
  const auto why_on =
      sec.curve_setting == "on" ? "cluster.security.curve: on" : "the rendezvous is not on a loopback address";
  if (name.empty())
    throw error(fmt::format("{}: CURVE is on ({}): name the free place whose key this process holds with --name "
                            "(one of t{}..t{})",
                            launch.rendezvous_where, why_on, world - 1, max_world - 2));
  for (std::size_t r = 0; r < max_world; ++r)
    if (launch.public_keys.count(config::launched_node_name(r)) == 0)
      throw error(fmt::format("{}: CURVE is on ({}) but cluster.launch.public_keys has no key for node '{}' (rank "
                              "{}); make one with `troupe-node keygen --name {}` and list it",
                              launch.rendezvous_where, why_on, config::launched_node_name(r), r,
                              config::launched_node_name(r)));
  ro.curve.peers = launch.public_keys;
  const auto listed = launch.public_keys.find(name);
  if (listed == launch.public_keys.end())
    throw error(fmt::format("{}: node '{}' is not a node of this job; its nodes are agg and t0..t{}",
                            launch.rendezvous_where, name, max_world - 2));
  const std::string key_file = config::key_file_of(base.cluster, name);
  ro.curve.own = net::read_key_file(key_file);
  if (ro.curve.own.public_key != listed->second)
    throw error(fmt::format("{}: node '{}': its key file {} holds public key {}, but cluster.launch.public_keys "
                            "lists {}",
                            launch.rendezvous_where, name, key_file, ro.curve.own.public_key, listed->second));
  return ro;
}

/// The static topology `endpoints` spell (rank order, "" for free places).
config::topology spelled_topology(const std::string& config_path, std::vector<config::override_kv> overrides,
                                  const config::launch_spec& launch, const std::vector<std::string>& endpoints) {
  std::vector<config::launched_member> members;
  for (std::size_t r = 0; r < endpoints.size(); ++r)
    members.push_back({r, endpoints[r]});
  overrides.push_back({"cluster.nodes", config::nodes_override(members, launch)});
  return config::load_topology(config_path, overrides);
}

/// `--role auto`: who this process is, from the launcher's environment, and the static topology
/// the rendezvous spells (config/launch.hpp, docs/deploy.md).
launched_process resolve_launched(const std::string& config_path, const std::vector<config::override_kv>& overrides) {
  const auto base = config::load_topology(config_path, overrides);
  const auto& launch = base.cluster.launch;
  if (!launch.present)
    throw error(fmt::format("{}: --role auto: this topology lists its nodes and has no cluster.launch section; run "
                            "each node with --role ROLE [--name NAME], or see docs/deploy.md for launched jobs",
                            base.source));
  const auto env = config::detect_launcher([](const char* k) { return std::getenv(k); }, launch.port);
  if (!env)
    throw error("--role auto: no launcher in the environment: expected Slurm (SLURM_PROCID, SLURM_NTASKS), Open MPI "
                "(OMPI_COMM_WORLD_RANK/SIZE), PMI (PMI_RANK/PMI_SIZE), torchrun (RANK, WORLD_SIZE, MASTER_ADDR, "
                "MASTER_PORT), Kubernetes (TROUPE_WORLD_SIZE and a pod ordinal in HOSTNAME) or TROUPE_RANK and "
                "TROUPE_WORLD_SIZE (docs/deploy.md)");
  const std::string address = config::rendezvous_of(*env, launch);
  const std::string name = config::launched_node_name(env->rank);
  const std::size_t max_world = config::max_world_of(launch, env->world);
  std::cout << fmt::format("troupe-node: launcher {} ({}): rank {} of {} is node '{}' ({}); rendezvous {}{}\n",
                           env->launcher, env->evidence, env->rank, env->world, name,
                           env->rank == 0 ? "aggregator and loader" : "trainer", address,
                           max_world > env->world ? fmt::format("; elastic: up to {} trainer processes", max_world - 1)
                                                  : std::string())
            << std::flush;
  const auto ro = rendezvous_for(base, address, name, env->world, max_world);
  const std::string ip = launch.interface.empty() ? runtime::local_address_toward(address) : launch.interface;
  runtime::reserved_port port(ip);
  runtime::rendezvous_self self{env->rank, name, fmt::format("tcp://{}:{}", ip, port.port())};
  launched_process out;
  std::vector<std::string> endpoints;
  if (env->rank == 0) {
    out.server = std::make_unique<runtime::rendezvous_server>(ro, self);
    endpoints = out.server->gather();
    if (max_world == env->world)
      out.server.reset(); // nobody may join: the rendezvous is over
  } else {
    endpoints = runtime::join_rendezvous(ro, self);
  }
  out.topo = spelled_topology(config_path, overrides, launch, endpoints);
  out.name = name;
  port.release(); // the van binds it next
  return out;
}

/// `--role trainer` on a launched topology: a trainer process joining the running elastic job
/// through its rendezvous (TROUPE_RENDEZVOUS, else cluster.rendezvous), at the free place `name`
/// or the lowest free one.
launched_process resolve_joining(const config::topology& base, const std::string& config_path,
                                 const std::vector<config::override_kv>& overrides, const std::string& name) {
  const auto& launch = base.cluster.launch;
  const char* env_address = std::getenv("TROUPE_RENDEZVOUS");
  const std::string address = env_address != nullptr && *env_address != '\0' ? env_address : launch.rendezvous;
  if (address.empty())
    throw error(fmt::format("{}: --role trainer joins a running launched job through its rendezvous, and none is "
                            "known: set cluster.rendezvous: tcp://HOST:PORT or TROUPE_RENDEZVOUS",
                            launch.rendezvous_where));
  if (launch.max_trainers == 0)
    throw error(fmt::format("{}: this launched job is not elastic, so no trainer may join it while it runs; set "
                            "cluster.launch.max_trainers (docs/deploy.md)",
                            launch.rendezvous_where));
  const std::size_t max_world = launch.max_trainers + 1;
  const auto ro = rendezvous_for(base, address, name, 1, max_world);
  const std::string ip = launch.interface.empty() ? runtime::local_address_toward(address) : launch.interface;
  runtime::reserved_port port(ip);
  const auto [rank, endpoints] = runtime::join_running(ro, name, fmt::format("tcp://{}:{}", ip, port.port()));
  launched_process out;
  out.name = config::launched_node_name(rank);
  std::cout << fmt::format("troupe-node: joined the running job at {} as node '{}' (rank {})\n", address, out.name,
                           rank)
            << std::flush;
  out.topo = spelled_topology(config_path, overrides, launch, endpoints);
  port.release(); // the van binds it next
  return out;
}

} // namespace

std::vector<std::string> pick_nodes(const config::cluster_spec& cluster, const std::string& source,
                                    const std::string& role, const std::string& name) {
  if (role == "all") {
    if (!name.empty())
      return {config::find_node(cluster, name, source).name};
    std::vector<std::string> all;
    for (const auto& n : cluster.nodes)
      all.push_back(n.name);
    return all;
  }
  if (!name.empty()) {
    const auto& n = config::find_node(cluster, name, source);
    if (!has_role(n, role))
      throw error(fmt::format("{}: node '{}' does not have the {} role", n.where, name, role));
    return {name};
  }
  std::vector<std::string> candidates;
  for (const auto& n : cluster.nodes)
    if (has_role(n, role))
      candidates.push_back(n.name);
  if (candidates.size() != 1)
    throw error(fmt::format("{}: {} node(s) have the {} role ({}); pick one with --name", source, candidates.size(),
                            role, fmt::join(candidates, ", ")));
  return candidates;
}

int run_command(int argc, char** argv) {
  std::string role, config_path, name;
  std::vector<std::string> sets, slow, fail;
  CLI::App app{"Troupe node: runs the actors of one node of a cluster described in YAML"};
  app.footer("Reading a run's metrics logs (docs/metrics.md):\n"
             "  troupe-node watch <metrics dir> [--once] [--interval s]   live view, one row per actor\n"
             "  troupe-node report <run dir> [-o report.html]            self-contained HTML report\n"
             "  troupe-node timeline <run dir> [-o timeline.json]        Perfetto / Chrome-trace timeline\n"
             "Security (docs/security.md):\n"
             "  troupe-node keygen --name NODE [--dir keys] [--force]    CURVE key pair for one node");
  app.add_option("--role", role,
                 "aggregator | trainer | loader | all (all: every node of the topology in this process) | auto "
                 "(a launched job: role and rank from Slurm, MPI, torchrun or Kubernetes; docs/deploy.md)")
      ->required()
      ->check(CLI::IsMember({"aggregator", "trainer", "loader", "all", "auto"}));
  app.add_option("--config", config_path,
                 "Topology YAML (sections cluster, job, checkpoint, metrics), or a federated-bandit file "
                 "(sections cluster, bandit, metrics; see examples/fed_bandit.yaml)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--name", name, "Which node of the topology this process is (needed when several have the role)");
  app.add_option("--set", sets, "Override a YAML key, e.g. --set job.epochs=1 --set metrics.dir=/tmp/m (repeatable)");
  app.add_option("--slow-trainer", slow, "Test hook: RANK=FACTOR makes that trainer's steps FACTOR times slower");
  app.add_option("--fail-trainer", fail, "Test hook: RANK=CLOCK makes that trainer throw once at that clock");
  std::string transient;
  app.add_option("--transient-slow", transient,
                 "Test hook: FRACTION=FACTOR makes that fraction of every trainer's steps (drawn at random, seeded, "
                 "the same in every run) FACTOR times slower, e.g. 0.1=5");
  std::string replay_balance;
  app.add_option("--replay-balance", replay_balance,
                 "Cut the global batch as a recorded run did (job.balance): the `balance` records of that run's "
                 "loader node, metrics/NODE.jsonl; the last record of each period is used")
      ->check(CLI::ExistingFile);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e); // --help prints and is 0; an error prints to stderr
    return code == 0 ? 0 : 2;     // bad command-line usage, as troupe_node_main.cpp says
  }

  catch_stop_signals();
  train::tune_allocator();
  if (const auto note = tensor::blas::kernel_note(); !note.empty())
    std::cout << "troupe-node: " << note << "\n" << std::flush;
  try {
    // The conv2d kernels (docs/tensor-engine.md): per layer (auto) unless TROUPE_CONV says otherwise.
    if (const char* conv = std::getenv("TROUPE_CONV"); conv != nullptr && *conv != '\0') {
      try {
        tensor::set_conv_backend(tensor::parse_conv_algo(conv));
      } catch (const error& e) {
        throw error(fmt::format("TROUPE_CONV={}: {}", conv, e.what()));
      }
      std::cout << fmt::format("troupe-node: conv2d backend '{}' (TROUPE_CONV)\n", conv) << std::flush;
    }
    std::vector<config::override_kv> overrides;
    for (const auto& s : sets)
      overrides.push_back(config::parse_override(s));
    if (is_bandit_file(config_path) && !transient.empty())
      throw error("--transient-slow applies to training topologies, not to the bandit workload");
    if (is_bandit_file(config_path))
      return run_bandit(config_path, overrides, role, name, !slow.empty(), !fail.empty());
    if (role == "auto" && !name.empty())
      throw error("--role auto takes its node from the launcher; leave out --name");
    launched_process launched;
    if (role == "auto") {
      launched = resolve_launched(config_path, overrides);
    } else {
      launched.topo = config::load_topology(config_path, overrides);
      if (role == "trainer" && launched.topo.cluster.nodes.empty() && launched.topo.cluster.launch.present)
        launched = resolve_joining(launched.topo, config_path, overrides, name);
    }
    const auto& topo = launched.topo;
    if (topo.cluster.nodes.empty())
      throw error(fmt::format("{}: the topology has no cluster.nodes: its nodes are found at start by a launcher "
                              "(cluster.launch); run every process with --role auto under Slurm, mpirun, torchrun or "
                              "Kubernetes (docs/deploy.md)",
                              topo.source));
    actors::run_options o;
    o.stop = &stop_requested();
    for (const auto& s : slow) {
      const auto [rank, factor] = parse_rank_value<double>(s, "--slow-trainer", "RANK=FACTOR, e.g. 1=3");
      o.slow_trainers[rank] = factor;
    }
    for (const auto& f : fail) {
      const auto [rank, clock] = parse_rank_value<std::uint64_t>(f, "--fail-trainer", "RANK=CLOCK, e.g. 1=100");
      o.fail_trainers[rank] = clock;
    }
    if (!transient.empty())
      o.transient_slow = ps::parse_transient_slowdown(transient);
    if (!replay_balance.empty())
      o.balance_replay = recorded_cuts(replay_balance);
    o.nodes = !launched.name.empty() ? std::vector<std::string>{launched.name}
                                     : pick_nodes(topo.cluster, topo.source, role, name);
    check_inputs(topo, o.nodes);
    if (launched.server) { // elastic: trainer processes may join while the nodes run
      o.joins = std::make_shared<actors::join_hook>();
      launched.server->serve_joins(
          [joins = o.joins](const std::string& node, const std::string& endpoint) {
            std::lock_guard<std::mutex> lock(joins->m);
            if (!joins->connect)
              return std::string("the job is not running (it has not started its nodes yet, or it has ended)");
            try {
              joins->connect(node, endpoint);
            } catch (const std::exception& e) {
              return std::string(e.what());
            }
            return std::string();
          },
          [joins = o.joins] {
            std::lock_guard<std::mutex> lock(joins->m);
            return static_cast<bool>(joins->connect);
          });
    }
    const int code = actors::run_nodes(topo, o);
    if (launched.server)
      launched.server->stop();
    return code;
  } catch (const std::exception& e) {
    std::cerr << "troupe-node: error: " << e.what() << '\n';
    return 1;
  }
}

} // namespace troupe::apps
