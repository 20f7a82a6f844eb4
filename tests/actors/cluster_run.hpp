#pragma once
// Runs a whole cluster of a test::cluster_case inside the test process and collects what it left:
// exit code, final parameters, the aggregator's records and the console.

#include <filesystem>
#include <map>
#include <sstream>

#include "actors/node.hpp"
#include "config/topology.hpp"
#include "train/model_file.hpp"

#include "cluster_test_util.hpp"

namespace troupe::test {

struct cluster_run {
  int exit_code = -1;
  std::vector<float> params;
  std::vector<nlohmann::json> aggregator_records;
  std::string console;
};

/// Runs every node of the topology `yaml` (from topology_yaml(c, dir), possibly edited) in this
/// process; `slow` and `fail` are the test hooks (rank -> slow-down factor, rank -> the clock at
/// which that trainer throws once).
inline cluster_run run_cluster_yaml(const std::string& yaml, const cluster_case& c, const std::filesystem::path& dir,
                                    std::map<std::size_t, double> slow = {},
                                    std::map<std::size_t, std::uint64_t> fail = {}) {
  const auto topo = config::parse_topology(yaml, "test.yaml");
  actors::run_options o;
  for (const auto& n : topo.cluster.nodes)
    o.nodes.push_back(n.name);
  std::ostringstream console;
  o.out = &console;
  o.slow_trainers = std::move(slow);
  o.fail_trainers = std::move(fail);
  cluster_run r;
  r.exit_code = actors::run_nodes(topo, o);
  r.console = console.str();
  const auto final_path = dir / "checkpoints" / "model_final.trpm";
  if (std::filesystem::exists(final_path))
    r.params = train::load_model(final_path.string()).params;
  const auto agg_node = c.transport == "inproc" ? std::string("main") : std::string("agg");
  for (auto& rec : read_records(dir / "metrics" / (agg_node + ".jsonl")))
    if (rec["actor"] == "aggregator")
      r.aggregator_records.push_back(rec);
  return r;
}

/// The test accuracy of the run's last evaluation, or -1 if it never evaluated.
inline double final_test_acc(const cluster_run& r) {
  double acc = -1;
  for (const auto& rec : r.aggregator_records)
    if (rec.contains("test_acc"))
      acc = rec["test_acc"].get<double>();
  return acc;
}

/// Runs every node of the case's topology in this process (see run_cluster_yaml).
inline cluster_run run_cluster(const cluster_case& c, const std::filesystem::path& dir,
                               std::map<std::size_t, double> slow = {},
                               std::map<std::size_t, std::uint64_t> fail = {}) {
  return run_cluster_yaml(topology_yaml(c, dir), c, dir, std::move(slow), std::move(fail));
}

} // namespace troupe::test
