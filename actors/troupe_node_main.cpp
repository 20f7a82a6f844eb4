// troupe-node: runs one node (or, with --role all, every node) of a Troupe topology.
//
//   ./build/actors/troupe-node --role all --config examples/fmnist-local.yaml
//   ./build/actors/troupe-node --role aggregator --config examples/fmnist-2trainers.yaml
//   ./build/actors/troupe-node --role trainer --name t0 --config examples/fmnist-2trainers.yaml
//   ./build/actors/troupe-node watch runs/fmnist-local/metrics          (live view; --once prints once)
//   ./build/actors/troupe-node report runs/fmnist-local -o report.html  (HTML report with plots)
//   ./build/actors/troupe-node keygen --name t0 --dir keys              (CURVE key pair, docs/security.md)
//
// Exit status 0 when the job finished (or was stopped by SIGINT/SIGTERM after saving), 1 on an
// error (the message says what and where), 2 on bad command-line usage.

#include <atomic>
#include <charconv>
#include <cmath>
#include <type_traits>
#include <utility>
#include <filesystem>
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "actors/node.hpp"
#include "common/error.hpp"
#include "bandit/runner.hpp"
#include "config/bandit_spec.hpp"
#include "config/topology.hpp"
#include "data/dataset.hpp"

#include <yaml-cpp/yaml.h>
#include "net/curve.hpp"
#include "observe/report.hpp"
#include "observe/timeline.hpp"
#include "observe/watch.hpp"
#include "train/process_tuning.hpp"

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void on_signal(int) {
  stop_requested.store(true);
}

bool has_role(const troupe::config::node_spec& n, const std::string& role) {
  for (auto r : n.roles)
    if (troupe::config::to_string(r) == role)
      return true;
  return false;
}

/// `troupe-node watch <metrics dir> [--once] [--interval s]`; argv[0] is "watch".
int watch_command(int argc, char** argv) {
  troupe::observe::watch_options o;
  bool no_color = false;
  CLI::App app{"Live view of a run's metrics logs: one row per actor across all nodes"};
  app.name("troupe-node watch");
  app.add_option("dir", o.dir, "Metrics directory (the <node>.jsonl files), or a run directory holding metrics/")
      ->required();
  app.add_flag("--once", o.once, "Print the view once and exit (no screen clearing)");
  app.add_option("--interval", o.interval_s, "Seconds between refreshes of the live view")->check(CLI::PositiveNumber);
  app.add_flag("--no-color", no_color, "No ANSI colours even on a terminal");
  CLI11_PARSE(app, argc, argv);
  o.style.color = !no_color && ::isatty(STDOUT_FILENO) != 0;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  return troupe::observe::run_watch(o, std::cout, &stop_requested);
}

/// `troupe-node report <run dir> [-o report.html]`; argv[0] is "report".
int report_command(int argc, char** argv) {
  std::string dir, out = "report.html";
  CLI::App app{"Writes one self-contained HTML report (plots, no network needed) for a run"};
  app.name("troupe-node report");
  app.add_option("dir", dir, "Run directory holding metrics/, or the metrics directory itself")->required();
  app.add_option("-o,--output", out, "HTML file to write")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    troupe::observe::write_report(dir, out);
    std::cout << "troupe-node report: wrote " << out << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "troupe-node report: error: " << e.what() << '\n';
    return 1;
  }
}

/// `troupe-node timeline <run dir> [-o trace.json]`; argv[0] is "timeline".
int timeline_command(int argc, char** argv) {
  std::string dir, out = "timeline.json";
  CLI::App app{"Writes a Chrome-trace / Perfetto timeline of every actor's spans, all nodes on one time axis"};
  app.name("troupe-node timeline");
  app.add_option("dir", dir, "Run directory holding metrics/, or the metrics directory itself")->required();
  app.add_option("-o,--output", out, "Trace JSON to write (open in ui.perfetto.dev or chrome://tracing)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    troupe::observe::write_timeline(dir, out);
    std::cout << "troupe-node timeline: wrote " << out << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "troupe-node timeline: error: " << e.what() << '\n';
    return 1;
  }
}

/// `troupe-node keygen --name NODE [--dir keys] [--force]`; argv[0] is "keygen".
int keygen_command(int argc, char** argv) {
  std::string node, dir = "keys";
  bool force = false;
  CLI::App app{"Writes a CURVE key pair for one node to <dir>/<node>.key (mode 0600) and prints its public key "
               "for the topology YAML"};
  app.name("troupe-node keygen");
  app.add_option("--name", node, "the node's name in the topology")->required();
  app.add_option("--dir", dir, "directory of key files (cluster.security.key_dir; created 0700 if missing)");
  app.add_flag("--force", force, "replace an existing key file (the old public key stops working)");
  CLI11_PARSE(app, argc, argv);
  try {
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec))
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    TROUPE_ENFORCE(std::filesystem::is_directory(dir), "{}: not a directory and cannot be created: {}", dir,
                   ec ? ec.message() : std::string("exists as a file"));
    const auto keys = troupe::net::generate_curve_keypair();
    const auto path = (std::filesystem::path(dir) / (node + ".key")).string();
    troupe::net::write_key_file(path, node, keys, force);
    std::cout << fmt::format("troupe-node keygen: wrote {} (mode 0600; copy it only to the host of node '{}')\n"
                             "Add to node '{}' in the topology:\n      public_key: \"{}\"\n",
                             path, node, node, keys.public_key);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "troupe-node keygen: error: " << e.what() << '\n';
    return 1;
  }
}

/// "RANK=VALUE" of a test-hook flag, strictly: an integer rank, a number value (positive and finite if floating).
template <class Value>
std::pair<std::size_t, Value> parse_rank_value(const std::string& text, const char* flag, const char* form) {
  const auto bad = [&] { return troupe::error(fmt::format("{} {}: expected {}", flag, text, form)); };
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
void check_inputs(const troupe::config::topology& topo, const std::vector<std::string>& nodes) {
  // The data set is Fashion-MNIST (data::load_fashion_mnist): 1 x 28 x 28 images of 10 classes.
  const auto model = troupe::config::load_job_model(topo);
  std::size_t values = 1;
  for (auto d : model.input_shape)
    values *= d;
  if (values != 28 * 28)
    throw troupe::error(fmt::format("{}: job.model: {}: input [{}] holds {} values per sample, but the data set's "
                                    "images are 1 x 28 x 28 (784 values); write input: [1, 28, 28]",
                                    topo.job.model_where, topo.job.model, fmt::join(model.input_shape, ", "), values));
  if (model.loss == "softmax_cross_entropy" && troupe::config::num_outputs(model) < 10)
    throw troupe::error(fmt::format("{}: job.model: {}: the model outputs {} class scores, but the data set has 10 "
                                    "classes; end the model with dense: {{units: 10}}",
                                    topo.job.model_where, topo.job.model, troupe::config::num_outputs(model)));
  bool aggregator = false, loader = false;
  for (const auto& n : nodes) {
    aggregator = aggregator || has_role(troupe::config::find_node(topo, n), "aggregator");
    loader = loader || has_role(troupe::config::find_node(topo, n), "loader");
  }
  if (!aggregator && !loader)
    return;
  troupe::config::check_data_dir(topo);
  try {
    if (aggregator)
      troupe::data::check_fashion_mnist(topo.job.data.dir, false);  // the test split it evaluates on
    if (loader)
      troupe::data::check_fashion_mnist(topo.job.data.dir, true);
  } catch (const troupe::error& e) {
    const auto& where = topo.job.data.dir_where.empty() ? topo.source : topo.job.data.dir_where;
    throw troupe::error(fmt::format("{}: job.data.dir: {}", where, e.what()));
  }
}

/// The nodes this process runs: every node (--role all), the one named, or the only one with the role.
std::vector<std::string> pick_nodes(const troupe::config::cluster_spec& cluster, const std::string& source,
                                    const std::string& role, const std::string& name) {
  if (role == "all") {
    if (!name.empty())
      return {troupe::config::find_node(cluster, name, source).name};
    std::vector<std::string> all;
    for (const auto& n : cluster.nodes)
      all.push_back(n.name);
    return all;
  }
  if (!name.empty()) {
    const auto& n = troupe::config::find_node(cluster, name, source);
    if (!has_role(n, role))
      throw troupe::error(fmt::format("{}: node '{}' does not have the {} role", n.where, name, role));
    return {name};
  }
  std::vector<std::string> candidates;
  for (const auto& n : cluster.nodes)
    if (has_role(n, role))
      candidates.push_back(n.name);
  if (candidates.size() != 1)
    throw troupe::error(fmt::format("{}: {} node(s) have the {} role ({}); pick one with --name", source,
                                    candidates.size(), role, fmt::join(candidates, ", ")));
  return candidates;
}

} // namespace

int main(int argc, char** argv) {
  // Subcommands that only read metrics logs; everything else is the node CLI below.
  if (argc > 1 && std::string(argv[1]) == "watch")
    return watch_command(argc - 1, argv + 1);
  if (argc > 1 && std::string(argv[1]) == "report")
    return report_command(argc - 1, argv + 1);
  if (argc > 1 && std::string(argv[1]) == "timeline")
    return timeline_command(argc - 1, argv + 1);
  if (argc > 1 && std::string(argv[1]) == "keygen")
    return keygen_command(argc - 1, argv + 1);
  std::string role, config_path, name;
  std::vector<std::string> sets, slow, fail;
  CLI::App app{"Troupe node: runs the actors of one node of a cluster described in YAML"};
  app.footer("Reading a run's metrics logs (docs/metrics.md):\n"
             "  troupe-node watch <metrics dir> [--once] [--interval s]   live view, one row per actor\n"
             "  troupe-node report <run dir> [-o report.html]            self-contained HTML report\n"
             "  troupe-node timeline <run dir> [-o timeline.json]        Perfetto / Chrome-trace timeline\n"
             "Security (docs/security.md):\n"
             "  troupe-node keygen --name NODE [--dir keys] [--force]    CURVE key pair for one node");
  app.add_option("--role", role, "aggregator | trainer | loader | all (all: every node of the topology in this process)")
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
    const int code = app.exit(e);  // --help prints and is 0; an error prints to stderr
    return code == 0 ? 0 : 2;      // bad command-line usage, as the header says
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  troupe::train::tune_allocator();
  try {
    std::vector<troupe::config::override_kv> overrides;
    for (const auto& s : sets)
      overrides.push_back(troupe::config::parse_override(s));
    // A file with a top-level `bandit` section is the federated-bandit workload (docs/fed_bandit.md);
    // everything else is a training topology.
    bool bandit = false;
    try {
      bandit = static_cast<bool>(YAML::LoadFile(config_path)["bandit"]);
    } catch (const YAML::Exception&) {
      // The real loader below reports the syntax error with its position.
    }
    if (bandit) {
      const auto spec = troupe::config::load_bandit_spec(config_path, overrides);
      if (!slow.empty())
        throw troupe::error("--slow-trainer applies to training topologies, not to the bandit workload");
      return troupe::bandit::run_fed_bandit(spec, pick_nodes(spec.cluster, spec.source, role, name), std::cout,
                                            &stop_requested);
    }
    const auto topo = troupe::config::load_topology(config_path, overrides);
    troupe::actors::run_options o;
    o.stop = &stop_requested;
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
    return troupe::actors::run_nodes(topo, o);
  } catch (const std::exception& e) {
    std::cerr << "troupe-node: error: " << e.what() << '\n';
    return 1;
  }
}
