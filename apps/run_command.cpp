// The node run: `troupe-node --role ROLE --config FILE [--name N] [--set k=v]... [test hooks]`.
//
// Reads the topology (or hands a federated-bandit file to run_bandit), checks the inputs the
// chosen nodes read, and runs them until the job ends or SIGINT/SIGTERM stops it.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "actors/node.hpp"
#include "apps/commands.hpp"
#include "common/error.hpp"
#include "config/topology.hpp"
#include "data/dataset.hpp"
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
bool is_bandit_file(const std::string& config_path) {
  try {
    return static_cast<bool>(YAML::LoadFile(config_path)["bandit"]);
  } catch (const YAML::Exception&) {
    return false; // the real loader reports the syntax error with its position
  }
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
                 "aggregator | trainer | loader | all (all: every node of the topology in this process)")
      ->required()
      ->check(CLI::IsMember({"aggregator", "trainer", "loader", "all"}));
  app.add_option("--config", config_path,
                 "Topology YAML (sections cluster, job, checkpoint, metrics), or a federated-bandit file "
                 "(sections cluster, bandit, metrics; see examples/fed_bandit.yaml)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--name", name, "Which node of the topology this process is (needed when several have the role)");
  app.add_option("--set", sets, "Override a YAML key, e.g. --set job.epochs=1 --set metrics.dir=/tmp/m (repeatable)");
  app.add_option("--slow-trainer", slow, "Test hook: RANK=FACTOR makes that trainer's steps FACTOR times slower");
  app.add_option("--fail-trainer", fail, "Test hook: RANK=CLOCK makes that trainer throw once at that clock");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e); // --help prints and is 0; an error prints to stderr
    return code == 0 ? 0 : 2;     // bad command-line usage, as troupe_node_main.cpp says
  }

  catch_stop_signals();
  train::tune_allocator();
  try {
    std::vector<config::override_kv> overrides;
    for (const auto& s : sets)
      overrides.push_back(config::parse_override(s));
    if (is_bandit_file(config_path))
      return run_bandit(config_path, overrides, role, name, !slow.empty());
    const auto topo = config::load_topology(config_path, overrides);
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
    o.nodes = pick_nodes(topo.cluster, topo.source, role, name);
    check_inputs(topo, o.nodes);
    return actors::run_nodes(topo, o);
  } catch (const std::exception& e) {
    std::cerr << "troupe-node: error: " << e.what() << '\n';
    return 1;
  }
}

} // namespace troupe::apps
