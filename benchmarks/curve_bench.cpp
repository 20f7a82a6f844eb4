// What CURVE (authenticated encryption of every tcp link) costs, measured side by side with plaintext.
//
//   ./build/benchmarks/bench_curve                 # both parts
//   ./build/benchmarks/bench_curve --part roundtrip --rounds 5
//   ./build/benchmarks/bench_curve --part cluster   # 2 trainers x 1 thread, BSP over tcp, Fashion-MNIST slice
//
// roundtrip: a push of N floats and the parameters coming back, over a tcp loopback van pair, for the
// reference CNN's 225,034 floats and for 1M floats; plaintext and CURVE alternate within each round.
// cluster: the aggregation benchmark (bench_cluster --part throughput's 2-trainer BSP job over tcp),
// plaintext and CURVE alternating; figures are the aggregator's steady-state images/s.
// The last line is JSON: medians and the CURVE/plaintext ratios.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "actors/node.hpp"
#include "benchmarks/roundtrip.hpp"
#include "config/topology.hpp"
#include "net/curve.hpp"
#include "net/van.hpp"
#include "train/process_tuning.hpp"

using namespace troupe;
using clock_type = std::chrono::steady_clock;

namespace {

using bench::median;
using bench::roundtrip_seconds;

nlohmann::json part_roundtrip(int rounds) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t floats : {std::size_t{225034}, std::size_t{1} << 20}) {
    std::vector<double> plain, curve;
    for (int r = 0; r < rounds; ++r) {
      plain.push_back(roundtrip_seconds(floats, false, 21));
      curve.push_back(roundtrip_seconds(floats, true, 21));
    }
    const double p = median(plain), c = median(curve);
    fmt::print("roundtrip {:>8} floats: plaintext {:7.3f} ms, CURVE {:7.3f} ms, ratio {:.2f}x ({:.2f} GB/s "
               "encrypted both ways)\n",
               floats, p * 1e3, c * 1e3, c / p, 2.0 * static_cast<double>(floats) * 4 / c / 1e9);
    out[std::to_string(floats)] = {{"plaintext_ms", p * 1e3}, {"curve_ms", c * 1e3}, {"ratio", c / p}};
  }
  return out;
}

/// Aggregator images/s (median of its progress windows after the first) of the 2-trainer BSP job over tcp.
double cluster_images_per_s(bool curve, const std::string& tag) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("troupe-bench-curve-{}-{}", tag, ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "keys");
  std::string nodes, security;
  for (const auto& [name, roles] : std::vector<std::pair<std::string, std::string>>{
           {"agg", "aggregator"}, {"loader", "loader"}, {"t0", "trainer"}, {"t1", "trainer"}}) {
    std::string key;
    if (curve) {
      const auto k = net::generate_curve_keypair();
      net::write_key_file((dir / "keys" / (name + ".key")).string(), name, k);
      key = fmt::format(", public_key: \"{}\"", k.public_key);
    }
    nodes += fmt::format("    - {{name: {}, roles: [{}], endpoint: \"tcp://127.0.0.1:*\"{}}}\n", name, roles, key);
  }
  if (curve)
    security = fmt::format("  security: {{curve: on, key_dir: \"{}\"}}\n", (dir / "keys").string());
  const std::string yaml = fmt::format(R"(cluster:
  id: bench
{}  nodes:
{}job:
  model: {}
  data: {{max_train: 12800, max_test: 500}}
  batch_size: 32
  epochs: 1
  seed: 1
  optimizer: {{kind: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4}}
  schedule: {{kind: cosine}}
  consistency: {{mode: bsp}}
checkpoint: {{dir: {}/checkpoints}}
metrics: {{dir: {}/metrics, print_freq: 20, console: false}}
)",
                                       security, nodes, TROUPE_DEFAULT_MODEL, dir.string(), dir.string());
  const auto topo = config::parse_topology(yaml, tag + ".yaml");
  actors::run_options o;
  for (const auto& n : topo.cluster.nodes)
    o.nodes.push_back(n.name);
  std::ostringstream quiet;
  o.out = &quiet;
  if (actors::run_nodes(topo, o) != 0)
    throw std::runtime_error("benchmark cluster failed: " + tag + "\n" + quiet.str());
  std::vector<double> v;
  std::ifstream in(dir / "metrics" / "agg.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto rec = nlohmann::json::parse(line);
    if (rec["actor"] == "aggregator" && rec.contains("images_per_s"))
      v.push_back(rec["images_per_s"].get<double>());
  }
  if (v.size() > 2)
    v.erase(v.begin()); // warm-up window
  std::filesystem::remove_all(dir);
  return median(v);
}

nlohmann::json part_cluster(int rounds) {
  std::vector<double> plain, curve;
  for (int r = 0; r < rounds; ++r) {
    plain.push_back(cluster_images_per_s(false, fmt::format("plain-{}", r)));
    curve.push_back(cluster_images_per_s(true, fmt::format("curve-{}", r)));
    fmt::print("cluster round {}: plaintext {:.0f} images/s, CURVE {:.0f} images/s\n", r + 1, plain.back(),
               curve.back());
  }
  const double p = median(plain), c = median(curve);
  fmt::print("cluster (2 trainers x 1 thread, bsp, tcp): plaintext {:.0f} images/s, CURVE {:.0f} images/s, CURVE "
             "costs {:.1f}%\n",
             p, c, 100.0 * (1 - c / p));
  return {{"plaintext_images_per_s", p}, {"curve_images_per_s", c}, {"ratio", c / p}};
}

} // namespace

int main(int argc, char** argv) {
  std::string part = "all";
  int rounds = 3;
  CLI::App app{"CURVE overhead: round trip and the 2-trainer aggregation benchmark, plaintext vs CURVE"};
  app.add_option("--part", part, "roundtrip | cluster | all")->check(CLI::IsMember({"roundtrip", "cluster", "all"}));
  app.add_option("--rounds", rounds, "alternating plaintext/CURVE rounds")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  train::tune_allocator();
  try {
    nlohmann::json summary;
    if (part == "roundtrip" || part == "all")
      summary["roundtrip"] = part_roundtrip(rounds);
    if (part == "cluster" || part == "all")
      summary["cluster"] = part_cluster(rounds);
    std::cout << summary.dump() << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_curve: error: " << e.what() << '\n';
    return 1;
  }
}
