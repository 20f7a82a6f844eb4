#pragma once
// Builds small topologies for in-process and multi-process cluster tests.

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/test_env.hpp"

namespace troupe::test {

struct cluster_case {
  std::string transport = "inproc"; ///< inproc (one node), tcp (one node per role, ephemeral ports), ipc
  std::size_t trainers = 2;
  std::string mode = "bsp";
  std::size_t staleness = 0;
  std::size_t batch = 16;
  std::size_t epochs = 1;
  std::size_t max_train = 640;
  std::size_t max_test = 200;
  std::size_t print_freq = 1;
  std::string schedule = "cosine";
  std::uint64_t seed = 5;
  float momentum = 0.9f;            ///< async modes want 0: staleness already acts as momentum
  std::string balance = "off";      ///< job.balance
  std::string compression = "none"; ///< job.compression (YAML: a word or a flow mapping)
  std::size_t shards = 1;           ///< aggregator: {shards: K} on the aggregator node
  std::size_t aggregator_nodes = 1; ///< tcp / ipc: more aggregator nodes agg1, agg2, ... (one shard each)
  std::string augment = "{}";       ///< job.augment as a flow mapping ({} = off)
  std::string backup_trainers;      ///< job.backup_trainers as written; empty: the key is absent
};

/// Topology YAML for the case; outputs under `dir`.
inline std::string topology_yaml(const cluster_case& c, const std::filesystem::path& dir) {
  std::string nodes;
  const std::string shards = c.shards > 1 ? fmt::format(", aggregator: {{shards: {}}}", c.shards) : std::string();
  if (c.transport == "inproc") {
    nodes = fmt::format("    - {{name: main, roles: [aggregator, loader, trainer], endpoint: \"inproc://main-{}\", "
                        "trainers: {}{}}}\n",
                        ::getpid(), c.trainers, shards);
  } else {
    auto ep = [&](const std::string& name) {
      return c.transport == "tcp" ? std::string("tcp://127.0.0.1:*")
                                  : fmt::format("ipc://{}/sockets/{}.sock", dir.string(), name);
    };
    nodes += fmt::format("    - {{name: agg, roles: [aggregator], endpoint: \"{}\"{}}}\n", ep("agg"), shards);
    for (std::size_t a = 1; a < c.aggregator_nodes; ++a)
      nodes +=
          fmt::format("    - {{name: agg{}, roles: [aggregator], endpoint: \"{}\"}}\n", a, ep(fmt::format("agg{}", a)));
    nodes += fmt::format("    - {{name: loader, roles: [loader], endpoint: \"{}\"}}\n", ep("loader"));
    for (std::size_t t = 0; t < c.trainers; ++t)
      nodes += fmt::format("    - {{name: t{}, roles: [trainer], endpoint: \"{}\", trainers: 1}}\n", t,
                           ep("t" + std::to_string(t)));
  }
  const std::string consistency =
      c.mode == "ssp" ? fmt::format("{{mode: ssp, staleness: {}}}", c.staleness) : fmt::format("{{mode: {}}}", c.mode);
  return fmt::format(
      R"(cluster:
  id: test-cluster
  connect_timeout_s: 20
  nodes:
{nodes}
job:
  model: {model}
  data: {{max_train: {max_train}, max_test: {max_test}}}
  batch_size: {batch}
  epochs: {epochs}
  seed: {seed}
  optimizer: {{kind: sgd, lr: 0.05, momentum: {momentum}, weight_decay: 5.0e-4}}
  schedule: {{kind: {schedule}}}
  consistency: {consistency}
  balance: {balance}
  compression: {compression}
  augment: {augment}
{backup}checkpoint:
  dir: {dir}/checkpoints
metrics:
  dir: {dir}/metrics
  print_freq: {print_freq}
  console: false
)",
      fmt::arg("nodes", nodes), fmt::arg("model", source_dir() + "/examples/models/fmnist_cnn.yaml"),
      fmt::arg("max_train", c.max_train), fmt::arg("max_test", c.max_test), fmt::arg("batch", c.batch),
      fmt::arg("epochs", c.epochs), fmt::arg("seed", c.seed), fmt::arg("schedule", c.schedule),
      fmt::arg("consistency", consistency), fmt::arg("dir", dir.string()), fmt::arg("print_freq", c.print_freq),
      fmt::arg("momentum", c.momentum), fmt::arg("balance", c.balance), fmt::arg("compression", c.compression),
      fmt::arg("augment", c.augment),
      fmt::arg("backup",
               c.backup_trainers.empty() ? std::string() : fmt::format("  backup_trainers: {}\n", c.backup_trainers)));
}

/// `yaml` (from topology_yaml) with cluster.security.curve on, key files under `key_dir` and each
/// node's public key from `public_keys` (node name -> Z85 key) listed in its entry.
inline std::string with_curve(std::string yaml, const std::filesystem::path& key_dir,
                              const std::map<std::string, std::string>& public_keys) {
  for (const auto& [node, key] : public_keys) {
    const std::string from = "{name: " + node + ",";
    const auto at = yaml.find(from);
    REQUIRE(at != std::string::npos);
    yaml.replace(at, from.size(), fmt::format("{{name: {}, public_key: \"{}\",", node, key));
  }
  const std::string id = "  id: test-cluster\n";
  yaml.replace(yaml.find(id), id.size(),
               id + fmt::format("  security: {{curve: on, key_dir: \"{}\"}}\n", key_dir.string()));
  return yaml;
}

/// All JSON records of one node's metrics log.
inline std::vector<nlohmann::json> read_records(const std::filesystem::path& file) {
  std::vector<nlohmann::json> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    out.push_back(nlohmann::json::parse(line));
  return out;
}

} // namespace troupe::test
