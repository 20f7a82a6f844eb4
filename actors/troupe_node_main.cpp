// troupe-node: runs one node (or, with --role all, every node) of a Troupe topology.
//
//   ./build/actors/troupe-node --role all --config examples/fmnist-local.yaml
//   ./build/actors/troupe-node --role aggregator --config examples/fmnist-2trainers.yaml
//   ./build/actors/troupe-node --role trainer --name t0 --config examples/fmnist-2trainers.yaml
//
// Exit status 0 when the job finished (or was stopped by SIGINT/SIGTERM after saving), 1 on an
// error (the message says what and where), 2 on bad command-line usage.

#include <atomic>
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "actors/node.hpp"
#include "common/error.hpp"
#include "config/topology.hpp"
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

} // namespace

int main(int argc, char** argv) {
  std::string role, config_path, name;
  std::vector<std::string> sets, slow;
  CLI::App app{"Troupe node: runs the actors of one node of a cluster described in YAML"};
  app.add_option("--role", role, "aggregator | trainer | loader | all (all: every node of the topology in this process)")
      ->required()
      ->check(CLI::IsMember({"aggregator", "trainer", "loader", "all"}));
  app.add_option("--config", config_path, "Topology YAML (sections cluster, job, checkpoint, metrics)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--name", name, "Which node of the topology this process is (needed when several have the role)");
  app.add_option("--set", sets, "Override a YAML key, e.g. --set job.epochs=1 --set metrics.dir=/tmp/m (repeatable)");
  app.add_option("--slow-trainer", slow, "Test hook: RANK=FACTOR makes that trainer's steps FACTOR times slower");
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  troupe::train::tune_allocator();
  try {
    std::vector<troupe::config::override_kv> overrides;
    for (const auto& s : sets)
      overrides.push_back(troupe::config::parse_override(s));
    const auto topo = troupe::config::load_topology(config_path, overrides);

    troupe::actors::run_options o;
    o.stop = &stop_requested;
    for (const auto& s : slow) {
      const auto eq = s.find('=');
      if (eq == std::string::npos)
        throw troupe::error(fmt::format("--slow-trainer {}: expected RANK=FACTOR, e.g. 1=3", s));
      o.slow_trainers[std::stoul(s.substr(0, eq))] = std::stod(s.substr(eq + 1));
    }
    if (role == "all") {
      if (!name.empty())
        o.nodes = {troupe::config::find_node(topo, name).name};
      else
        for (const auto& n : topo.cluster.nodes)
          o.nodes.push_back(n.name);
    } else if (!name.empty()) {
      const auto& n = troupe::config::find_node(topo, name);
      if (!has_role(n, role))
        throw troupe::error(fmt::format("{}: node '{}' does not have the {} role", n.where, name, role));
      o.nodes = {name};
    } else {
      std::vector<std::string> candidates;
      for (const auto& n : topo.cluster.nodes)
        if (has_role(n, role))
          candidates.push_back(n.name);
      if (candidates.size() != 1)
        throw troupe::error(fmt::format("{}: {} node(s) have the {} role ({}); pick one with --name", topo.source,
                                        candidates.size(), role, fmt::join(candidates, ", ")));
      o.nodes = candidates;
    }
    return troupe::actors::run_nodes(topo, o);
  } catch (const std::exception& e) {
    std::cerr << "troupe-node: error: " << e.what() << '\n';
    return 1;
  }
}
