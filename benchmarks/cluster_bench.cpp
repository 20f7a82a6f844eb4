// Benchmarks of the actor runtime; each part prints its figures, the last line is JSON.
//
//   ./build/benchmarks/bench_cluster --part throughput   # 2 trainers x 1 thread (bsp, tcp) vs 1 trainer x 2 threads
//   ./build/benchmarks/bench_cluster --part roundtrip    # 2 trainers push + get parameters over tcp loopback;
//                                                        # with --torch-reference PATH, alternating with gloo
//   ./build/benchmarks/bench_cluster --part shards       # 4 synthetic trainers, 25M floats, K = 1, 2, 4
//                                                        # aggregator shards alternating: aggregate updates/s
//   ./build/benchmarks/bench_cluster --part overlap      # 2 trainers, 1 aggregator vs 2 shards whose pushes leave
//                                                        # during backward vs the same after it: images/s, wait;
//                                                        # with --torch-reference PATH, alternating with DDP
//   ./build/benchmarks/bench_cluster --part scaling      # N = 1..32 synthetic trainers, bsp rounds: step time,
//                                                        # updates/s, and the fitted cost model (docs/scaling.md)
//   ./build/benchmarks/bench_cluster --part straggler    # one trainer 3x slower: time to 0.88 / 0.90 test accuracy,
//                                                        # bsp / ssp / asp, each with balance off and speed
//                                                        # (--straggler-transport tcp, --straggler-modes ...)
//   ./build/benchmarks/bench_cluster --part transient    # every trainer 10 % of its steps 5x slower (seeded):
//                                                        # time to 0.88 / 0.90 test accuracy, bsp / bsp with
//                                                        # backup_trainers: 1 / ssp / asp (3 trainers)
//   ./build/benchmarks/bench_cluster --part balance      # one trainer 3x slower: images/s with balance off / speed
//                                                        # (bsp, ssp, asp), against the two trainers' speeds alone
//   ./build/benchmarks/bench_cluster --part metrics      # what metrics and spans cost a trainer per step
//   ./build/benchmarks/bench_cluster --part recovery     # trainer failure -> first step after its restart
//   ./build/benchmarks/bench_cluster --part process-recovery  # kill -9 of a trainer / the aggregator process,
//                                                        # a partitioned trainer healed -> first applied step
//   ./build/benchmarks/bench_cluster                     # all (the straggler part takes minutes)
//   --conv auto (or TROUPE_CONV): the in-process trainers' conv2d backend (default auto; docs/tensor-engine.md)

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/node.hpp"
#include "benchmarks/roundtrip.hpp"
#include "config/topology.hpp"
#include "net/van.hpp"
#include "ps/slowdown.hpp"
#include "runtime/metrics_actor.hpp"
#include "runtime/span_log.hpp"
#include "tensor/blas.hpp"
#include "tensor/ops/conv2d.hpp"
#include "tests/support/fault_proxy.hpp"
#include "train/process_tuning.hpp"

extern char** environ;

using namespace troupe;
using clock_type = std::chrono::steady_clock;

namespace {

using bench::median;

struct job_shape {
  std::string nodes; ///< YAML of the node list
  std::string consistency = "{mode: bsp}";
  std::string balance = "off";
  std::size_t batch = 32, epochs = 1, max_train = 0, max_test = 0, every_steps = 0, print_freq = 20;
  std::size_t checkpoint_every = 0; ///< checkpoint.every_steps; 0 = the default
  std::size_t backup_trainers = 0;  ///< job.backup_trainers; 0 = the key is left out
  float momentum = 0.9f;
};

std::string yaml_of(const job_shape& j, const std::filesystem::path& dir) {
  return fmt::format(
      R"(cluster:
  id: bench
  nodes:
{}
job:
  model: {}
  data: {{max_train: {}, max_test: {}}}
  batch_size: {}
  epochs: {}
  seed: 1
  optimizer: {{kind: sgd, lr: 0.05, momentum: {}, weight_decay: 5.0e-4}}
  schedule: {{kind: cosine}}
  consistency: {}
  balance: {}
  evaluation: {{every_epochs: 1, every_steps: {}}}
{}checkpoint: {{dir: {}/checkpoints{}}}
metrics: {{dir: {}/metrics, print_freq: {}, console: false}}
)",
      j.nodes, TROUPE_DEFAULT_MODEL, j.max_train, j.max_test, j.batch, j.epochs, j.momentum, j.consistency, j.balance,
      j.every_steps, j.backup_trainers > 0 ? fmt::format("  backup_trainers: {}\n", j.backup_trainers) : std::string(),
      dir.string(), j.checkpoint_every > 0 ? fmt::format(", every_steps: {}", j.checkpoint_every) : std::string(),
      dir.string(), j.print_freq);
}

struct run_result {
  double seconds = 0;
  std::vector<nlohmann::json> records; ///< every node's records
};

run_result run(const job_shape& j, const std::string& tag, std::map<std::size_t, double> slow = {},
               std::map<std::size_t, std::uint64_t> fail = {}, ps::transient_slowdown transient = {},
               bool push_after_backward = false) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("troupe-bench-{}-{}", tag, ::getpid());
  std::filesystem::remove_all(dir);
  const auto topo = config::parse_topology(yaml_of(j, dir), tag + ".yaml");
  actors::run_options o;
  for (const auto& n : topo.cluster.nodes)
    o.nodes.push_back(n.name);
  std::ostringstream quiet;
  o.out = &quiet;
  o.slow_trainers = std::move(slow);
  o.fail_trainers = std::move(fail);
  o.transient_slow = transient;
  o.push_after_backward = push_after_backward;
  run_result r;
  const auto t0 = clock_type::now();
  if (actors::run_nodes(topo, o) != 0)
    throw std::runtime_error("benchmark cluster failed: " + tag);
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  for (const auto& f : std::filesystem::directory_iterator(dir / "metrics")) {
    std::ifstream in(f.path());
    std::string line;
    while (std::getline(in, line))
      r.records.push_back(nlohmann::json::parse(line));
  }
  std::filesystem::remove_all(dir);
  return r;
}

/// Steady-state images/s of the aggregator's progress windows (the first window is warm-up).
double aggregator_images_per_s(const run_result& r) {
  std::vector<double> v;
  for (const auto& rec : r.records)
    if (rec["actor"] == "aggregator" && rec.contains("images_per_s"))
      v.push_back(rec["images_per_s"].get<double>());
  if (v.size() > 2)
    v.erase(v.begin());
  return median(v);
}

/// Where the trainers' time went, from their spans: compute, push, waiting for parameters (the
/// pull) and waiting for batches, as fractions of their sum.
nlohmann::json step_split(const run_result& r) {
  std::map<std::string, double> seconds;
  // A push that left during backward (sharded aggregators) overlaps its compute span: only its
  // part after the compute's end is the trainer's time.
  std::map<std::string, double> compute_end; // by gradient id
  for (const auto& rec : r.records)
    if (rec["role"] == "trainer" && rec.value("event", "") == "spans")
      for (const auto& s : rec["spans"])
        if (s[0] == "compute")
          compute_end[s[3].get<std::string>()] = s[1].get<double>() + s[2].get<double>();
  for (const auto& rec : r.records)
    if (rec["role"] == "trainer" && rec.value("event", "") == "spans")
      for (const auto& s : rec["spans"]) {
        double secs = s[2].get<double>();
        if (const auto it = compute_end.find(s[3].get<std::string>()); s[0] == "push" && it != compute_end.end())
          secs = std::max(0.0, s[1].get<double>() + secs - std::max(s[1].get<double>(), it->second));
        seconds[s[0].get<std::string>()] += secs;
      }
  double total = 0;
  for (const auto& [name, secs] : seconds)
    total += secs;
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, secs] : seconds)
    out[name] = secs / std::max(total, 1e-9);
  return out;
}

/// An aggregator + loader node and `trainers` trainer nodes of `threads` threads each, over tcp.
std::string tcp_nodes(std::size_t trainers, std::size_t threads, std::size_t shards = 1) {
  std::string nodes = fmt::format("    - {{name: agg, roles: [aggregator, loader], endpoint: \"tcp://127.0.0.1:*\"{}}}",
                                  shards > 1 ? fmt::format(", aggregator: {{shards: {}}}", shards) : std::string());
  for (std::size_t t = 0; t < trainers; ++t)
    nodes += fmt::format("\n    - {{name: t{}, roles: [trainer], endpoint: \"tcp://127.0.0.1:*\", trainers: 1, "
                         "threads: {}}}",
                         t, threads);
  return nodes;
}

nlohmann::json part_throughput() {
  job_shape two;
  two.max_train = 12800;
  two.max_test = 100;
  two.nodes = tcp_nodes(2, 1);
  job_shape one = two;
  one.batch = 64;
  one.nodes = tcp_nodes(1, 2);
  std::vector<double> a, b;
  nlohmann::json split_a, split_b;
  for (int rep = 0; rep < 3; ++rep) { // alternate so machine noise hits both alike
    const auto ra = run(two, "two");
    a.push_back(aggregator_images_per_s(ra));
    split_a = step_split(ra);
    const auto rb = run(one, "one");
    b.push_back(aggregator_images_per_s(rb));
    split_b = step_split(rb);
  }
  const double ma = median(a), mb = median(b);
  fmt::print("throughput: 2 trainers x 1 thread (bsp, tcp) {:.0f} images/s; 1 trainer x 2 threads {:.0f} images/s; "
             "ratio {:.2f}\n",
             ma, mb, ma / mb);
  auto pct = [](const nlohmann::json& split, const char* key) { return 100 * split.value(key, 0.0); };
  fmt::print("  trainer time, 2x1: compute {:.1f}%  push {:.1f}%  wait for params {:.1f}%  wait for batch {:.1f}%\n",
             pct(split_a, "compute"), pct(split_a, "push"), pct(split_a, "wait_params"), pct(split_a, "wait_batch"));
  fmt::print("  trainer time, 1x2: compute {:.1f}%  push {:.1f}%  wait for params {:.1f}%  wait for batch {:.1f}%\n",
             pct(split_b, "compute"), pct(split_b, "push"), pct(split_b, "wait_params"), pct(split_b, "wait_batch"));
  return {{"two_trainers_images_per_s", ma},
          {"one_trainer_two_threads_images_per_s", mb},
          {"ratio", ma / mb},
          {"split_2x1", split_a},
          {"split_1x2", split_b}};
}

std::optional<std::pair<double, double>> ddp_throughput(const std::string& script, double straggler_ms);

/// Pushes overlapped with backward: the reference CNN on 2 trainer nodes x 1 thread (bsp, tcp),
/// one aggregator against `shards` shards on the aggregator's node whose pushes leave as backward
/// finishes each shard's range, and the same shards with every push after backward (the hook
/// run_options::push_after_backward). Alternating rounds, medians. With `torch_reference`, each
/// round also runs PyTorch DDP (gloo, 2 ranks x 1 thread, unslowed) for #12's "bsp >= 1.3x DDP".
nlohmann::json part_overlap(int rounds, std::size_t shards, const std::string& torch_reference) {
  job_shape one;
  one.max_train = 12800;
  one.max_test = 100;
  one.nodes = tcp_nodes(2, 1);
  job_shape sharded = one;
  sharded.nodes = tcp_nodes(2, 1, shards);
  std::map<std::string, std::vector<double>> ips, wait;
  for (int round = 0; round < rounds; ++round) {
    if (!torch_reference.empty())
      if (const auto ddp = ddp_throughput(torch_reference, 0))
        ips["ddp"].push_back(ddp->first);
    for (const std::string mode : {"one", "early", "after"}) {
      const auto r = run(mode == "one" ? one : sharded, "overlap-" + mode, {}, {}, {}, mode == "after");
      ips[mode].push_back(aggregator_images_per_s(r));
      wait[mode].push_back(step_split(r).value("wait_params", 0.0));
    }
  }
  nlohmann::json out{{"shards", shards}, {"rounds", rounds}};
  for (const auto& [mode, v] : ips) {
    out[mode + "_images_per_s"] = median(v);
    if (mode != "ddp")
      out[mode + "_wait_params"] = median(wait[mode]);
  }
  if (!ips["ddp"].empty())
    for (const std::string mode : {"one", "early", "after"}) {
      out[mode + "_over_ddp"] = median(ips[mode]) / median(ips["ddp"]);
      fmt::print(
          "overlap: {} {:.0f} global images/s against PyTorch DDP's {:.0f} (2 ranks x 1 thread, gloo): {:.2f}x\n", mode,
          median(ips[mode]), median(ips["ddp"]), out[mode + "_over_ddp"].get<double>());
    }
  fmt::print("overlap (2 trainers x 1 thread, bsp, tcp, {} rounds, medians): 1 aggregator {:.0f} images/s, wait for "
             "parameters {:.1f}%; {} shards pushed during backward {:.0f} images/s, wait {:.1f}%; {} shards pushed "
             "after backward {:.0f} images/s, wait {:.1f}%\n",
             rounds, median(ips["one"]), 100 * median(wait["one"]), shards, median(ips["early"]),
             100 * median(wait["early"]), shards, median(ips["after"]), 100 * median(wait["after"]));
  return out;
}

/// The JSON on the last line of `cmd`'s standard output, or nothing (with the reason printed).
std::optional<nlohmann::json> last_json_line(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::string text, last;
  if (pipe) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe.get()) != nullptr)
      text += buf;
  }
  for (std::size_t at = 0; at < text.size();) {
    const auto nl = text.find('\n', at);
    const auto line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    if (!line.empty())
      last = line;
    at = nl == std::string::npos ? text.size() : nl + 1;
  }
  auto result = nlohmann::json::parse(last, nullptr, false);
  if (result.is_discarded()) {
    fmt::print("{} gave no JSON result ({} bytes of output); is python3-torch installed?\n", cmd, text.size());
    return std::nullopt;
  }
  return result;
}

/// gloo all_reduce medians (ms) of the given sizes from torch_reference.py's `allreduce` (2 ranks,
/// loopback), or an empty map (with the reason printed) if it cannot run.
std::map<std::size_t, double> gloo_allreduce_ms(const std::string& script, const std::vector<std::size_t>& sizes) {
  std::map<std::size_t, double> out;
  std::vector<std::string> list;
  for (auto n : sizes)
    list.push_back(std::to_string(n));
  const auto cmd = fmt::format("/usr/bin/python3 '{}' allreduce --world 2 --sizes {} --iters 5 --warmup 1 2>/dev/null",
                               script, fmt::join(list, ","));
  const auto result = last_json_line(cmd);
  try {
    if (result)
      for (const auto& row : result->at("allreduce"))
        out[row.at("elements").get<std::size_t>()] = row.at("time_us").at("median").get<double>() / 1e3;
  } catch (const std::exception& e) {
    fmt::print("gloo: {} gave no result ({})\n", cmd, e.what());
  }
  return out;
}

/// PyTorch DDP (gloo, 2 ranks x 1 thread, batch 32 per rank) from torch_reference.py's `ddp`, rank
/// 1 sleeping `straggler_ms` per step: its median global images/s and ms per step, or nothing.
std::optional<std::pair<double, double>> ddp_throughput(const std::string& script, double straggler_ms) {
  const auto cmd = fmt::format(
      "/usr/bin/python3 '{}' ddp --skip-tta --world 2 --threads-per-rank 1 --batch-per-rank 32 --straggler-ms {} "
      "--tp-repeats 1 2>/dev/null",
      script, straggler_ms);
  const auto result = last_json_line(cmd);
  try {
    if (result)
      return std::make_pair(result->at("throughput").at("global_images_per_s").at("median").get<double>(),
                            result->at("throughput").at("ms_per_step").at("median").get<double>());
  } catch (const std::exception& e) {
    fmt::print("ddp: {} gave no result ({})\n", cmd, e.what());
  }
  return std::nullopt;
}

/// Push + parameters round trip of 2 trainers and 1 aggregator over tcp loopback, alternating with
/// gloo all_reduce of the same sizes (when `torch_reference` names the script) round by round.
nlohmann::json part_roundtrip(int rounds, const std::string& torch_reference, std::vector<std::size_t> sizes,
                              bool whole, int io_threads) {
  if (sizes.empty())
    sizes = {225034, std::size_t{1} << 20, std::size_t{16} << 20, std::size_t{64} << 20};
  std::map<std::size_t, std::vector<double>> troupe_ms, whole_ms, gloo_ms;
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t floats : sizes) {
      const int reps = floats > (std::size_t{4} << 20) ? 6 : 30;
      const double t = bench::roundtrip_seconds(floats, false, reps, 2, io_threads);
      troupe_ms[floats].push_back(t * 1e3);
      // The same with whole frames (piece_bytes 0): the transport before wire version 3.
      const double w = whole ? bench::roundtrip_seconds(floats, false, reps, 2, io_threads, 0) : 0;
      whole_ms[floats].push_back(w * 1e3);
      fmt::print("round {} roundtrip {:>9} floats, 2 trainers: {:8.3f} ms in pieces, {:8.3f} ms whole\n", r + 1, floats,
                 t * 1e3, w * 1e3);
    }
    if (!torch_reference.empty())
      for (const auto& [floats, ms] : gloo_allreduce_ms(torch_reference, sizes)) {
        gloo_ms[floats].push_back(ms);
        fmt::print("round {} gloo allreduce {:>9} floats, 2 ranks: {:8.3f} ms\n", r + 1, floats, ms);
      }
  }
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t floats : sizes) {
    const double t = bench::median(troupe_ms[floats]);
    // Bytes the aggregator moves: each trainer's push in and its parameters out.
    const double gbps = 2.0 * 2.0 * static_cast<double>(floats) * 4 / (t / 1e3) / 1e9;
    const double w = whole ? bench::median(whole_ms[floats]) : 0;
    nlohmann::json row{{"ms", t},
                       {"aggregator_gb_per_s", gbps},
                       {"rounds_ms", troupe_ms[floats]},
                       {"whole_frames_ms", w},
                       {"speedup_vs_whole_frames", w / t}};
    std::string vs = whole ? fmt::format(", whole frames {:.3f} ms: {:.2f}x", w, w / t) : std::string();
    if (!gloo_ms[floats].empty()) {
      const double g = bench::median(gloo_ms[floats]);
      row["gloo_allreduce_ms"] = g;
      row["speedup_vs_gloo"] = g / t;
      vs += fmt::format(", gloo {:.3f} ms: {:.2f}x", g, g / t);
    }
    fmt::print("roundtrip {:>9} floats: median {:8.3f} ms ({:.2f} GB/s through the aggregator){}\n", floats, t, gbps,
               vs);
    out[std::to_string(floats)] = row;
  }
  return out;
}

/// Least squares of t = a + N (b + c P) over the scaling points, in relative error (each point
/// weighted by 1/t, so a 0.5 ms step counts as much as a 500 ms one): the aggregator serialises its
/// trainers, each costing a fixed b (messages, wake-ups) and c per float (receive, assemble, apply,
/// send). Solves the 3x3 normal equations by Cramer's rule.
std::array<double, 3> fit_ps_model(const std::vector<std::array<double, 3>>& points) { // {N, P, t}
  double m[3][3] = {}, r[3] = {};
  for (const auto& [n, p, t] : points) {
    const double x[3] = {1 / t, n / t, n * p / t};
    for (int i = 0; i < 3; ++i) {
      r[i] += x[i];
      for (int j = 0; j < 3; ++j)
        m[i][j] += x[i] * x[j];
    }
  }
  const auto det = [](const double a[3][3]) {
    return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
           a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  };
  const double d = det(m);
  std::array<double, 3> out{};
  for (int k = 0; k < 3; ++k) {
    double mk[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        mk[i][j] = j == k ? r[i] : m[i][j];
    out[static_cast<std::size_t>(k)] = d == 0 ? 0 : det(mk) / d;
  }
  return out;
}

/// N synthetic trainers (no compute: the step is all communication and aggregation) and one
/// aggregator over tcp loopback, bsp rounds: step time, aggregator updates/s and bytes/s vs N and P,
/// and the fitted cost model t = a + N (b + c P) with its error at every point (docs/scaling.md).
nlohmann::json part_scaling(const std::vector<int>& trainer_counts) {
  const std::vector<std::size_t> sizes{225034, std::size_t{1} << 20, std::size_t{4} << 20};
  std::vector<std::array<double, 3>> points;
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t floats : sizes)
    for (int n : trainer_counts) {
      bench::roundtrip_setup setup;
      setup.floats = floats;
      setup.clients = n;
      setup.synchronous = true;
      setup.reps = floats * static_cast<std::size_t>(n) > (std::size_t{32} << 20) ? 4 : 10;
      const double t = bench::roundtrip_seconds(setup);
      const double updates = n / t, gbps = 2.0 * n * static_cast<double>(floats) * 4 / t / 1e9;
      fmt::print("scaling {:>8} floats, {:>3} trainers: step {:9.3f} ms, {:8.1f} updates/s, {:.2f} GB/s through the "
                 "aggregator\n",
                 floats, n, t * 1e3, updates, gbps);
      points.push_back({static_cast<double>(n), static_cast<double>(floats), t});
      rows.push_back({{"floats", floats},
                      {"trainers", n},
                      {"step_ms", t * 1e3},
                      {"updates_per_s", updates},
                      {"aggregator_gb_per_s", gbps}});
    }
  const auto [a, b, c] = fit_ps_model(points);
  fmt::print("model: step = {:.3f} ms + N x ({:.3f} ms + P x {:.3f} ns)\n", a * 1e3, b * 1e3, c * 1e9);
  double worst = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const auto [n, p, t] = points[i];
    const double predicted = a + n * (b + c * p), err = (predicted - t) / t;
    worst = std::max(worst, std::abs(err));
    rows[i]["model_ms"] = predicted * 1e3;
    fmt::print("  N {:>3} P {:>8}: measured {:9.3f} ms, model {:9.3f} ms ({:+.0f}%)\n", n, p, t * 1e3, predicted * 1e3,
               100 * err);
  }
  return {{"points", rows},
          {"model", {{"a_ms", a * 1e3}, {"b_ms", b * 1e3}, {"c_ns_per_float", c * 1e9}}},
          {"worst_relative_error", worst}};
}

/// Sharded aggregators, synthetic: N trainers push a P-float gradient per bsp round to K shards
/// (each its range, each shard with its own van and ZeroMQ context as if on its own host) and
/// get their ranges back; rounds alternate between the K values. Aggregate updates/s = N / step.
nlohmann::json part_shards(int rounds, std::size_t floats, int trainers, const std::vector<std::size_t>& shard_counts) {
  std::map<std::size_t, std::vector<double>> steps;
  for (int round = 0; round < rounds; ++round)
    for (std::size_t k : shard_counts) {
      bench::roundtrip_setup setup;
      setup.floats = floats;
      setup.clients = trainers;
      setup.synchronous = true;
      setup.shards = k;
      setup.reps = 4;
      const double t = bench::roundtrip_seconds(setup);
      steps[k].push_back(t);
      fmt::print("shards round {}: {} floats, {} trainers, K = {}: step {:8.1f} ms, {:6.2f} updates/s\n", round + 1,
                 floats, trainers, k, t * 1e3, trainers / t);
    }
  nlohmann::json rows = nlohmann::json::array();
  const double base = trainers / bench::median(steps.at(shard_counts.front()));
  for (std::size_t k : shard_counts) {
    const double t = bench::median(steps[k]), updates = trainers / t;
    fmt::print("K = {}: median step {:8.1f} ms, {:6.2f} updates/s ({:.2f}x K = {})\n", k, t * 1e3, updates,
               updates / base, shard_counts.front());
    rows.push_back({{"shards", k},
                    {"step_ms", t * 1e3},
                    {"updates_per_s", updates},
                    {"vs_first", updates / base},
                    {"steps_ms", steps[k]}});
  }
  return {{"floats", floats}, {"trainers", trainers}, {"rounds", rounds}, {"points", rows}};
}

/// Elapsed seconds of the first evaluation at or above `acc` (-1: never), and the best accuracy.
std::pair<double, double> time_to(const run_result& r, double acc) {
  double reached = -1, best = 0;
  for (const auto& rec : r.records)
    if (rec.contains("test_acc")) {
      best = std::max(best, rec["test_acc"].get<double>());
      if (reached < 0 && rec["test_acc"].get<double>() >= acc)
        reached = rec["elapsed_s"].get<double>();
    }
  return {reached, best};
}

std::string seconds_or_not(double s) {
  return s < 0 ? std::string("not reached") : fmt::format("{:.1f} s", s);
}

nlohmann::json part_straggler(bool tcp, const std::vector<std::string>& modes) {
  job_shape j;
  j.epochs = 4;
  j.max_test = 2000;
  j.every_steps = 100;
  j.print_freq = 100;
  j.momentum = 0.0f; // the same optimizer in every run (ssp wants no momentum)
  j.nodes = tcp ? tcp_nodes(2, 1)
                : "    - {name: main, roles: [aggregator, loader, trainer], endpoint: \"inproc://bench\", trainers: 2}";
  nlohmann::json out{{"transport", tcp ? "tcp" : "inproc"}};
  for (const std::string& mode : modes) {
    const std::string consistency = mode.substr(0, 3);
    j.consistency = consistency == "ssp"   ? "{mode: ssp, staleness: 3}"
                    : consistency == "asp" ? "{mode: asp}"
                                           : "{mode: bsp}";
    j.balance = mode.size() > 3 ? "speed" : "off";
    const auto r = run(j, "straggler-" + mode, {{1, 3.0}});
    const auto [t88, best] = time_to(r, 0.88);
    const double t90 = time_to(r, 0.90).first;
    fmt::print("straggler (trainer 1 at 3x), {}: time to 0.88 test accuracy {}, to 0.90 {}; best {:.3f}; whole run "
               "{:.1f} s\n",
               mode, seconds_or_not(t88), seconds_or_not(t90), best, r.seconds);
    out[mode] = {{"seconds_to_088", t88}, {"seconds_to_090", t90}, {"best_acc", best}, {"run_seconds", r.seconds}};
  }
  for (const std::string mode : {"bsp-balance", "ssp", "ssp-balance", "asp", "asp-balance"})
    if (out.contains("bsp") && out.contains(mode) && out["bsp"]["seconds_to_088"].get<double>() > 0 &&
        out[mode]["seconds_to_088"].get<double>() > 0)
      out[mode + "_over_bsp"] = out[mode]["seconds_to_088"].get<double>() / out["bsp"]["seconds_to_088"].get<double>();
  return out;
}

/// Transient stragglers, as on a shared cluster: every trainer has a `slow.fraction` of its steps
/// `slow.factor` times slower, drawn per (trainer, clock) from one seed, so every mode meets the
/// same slow steps. Time to 0.88 / 0.90 test accuracy, images/s and the whole run for bsp, bsp
/// with backup_trainers: 1, ssp (s = 3) and asp; `trainers` trainers x 1 thread in one process.
nlohmann::json part_transient(const ps::transient_slowdown& slow, std::size_t trainers, std::size_t epochs,
                              std::size_t max_train) {
  job_shape j;
  j.epochs = epochs;
  j.max_train = max_train;
  j.max_test = 2000;
  j.every_steps = 100;
  j.print_freq = 100;
  j.momentum = 0.0f; // the same optimizer in every run (ssp wants no momentum)
  j.nodes = fmt::format(
      "    - {{name: main, roles: [aggregator, loader, trainer], endpoint: \"inproc://bench\", trainers: {}}}",
      trainers);
  nlohmann::json out{{"fraction", slow.fraction}, {"factor", slow.factor}, {"trainers", trainers}};
  for (const std::string mode : {"bsp", "bsp-backup", "ssp", "asp"}) {
    j.consistency = mode == "ssp" ? "{mode: ssp, staleness: 3}" : mode == "asp" ? "{mode: asp}" : "{mode: bsp}";
    j.backup_trainers = mode == "bsp-backup" ? 1 : 0;
    const auto r = run(j, "transient-" + mode, {}, {}, slow);
    const auto [t88, best] = time_to(r, 0.88);
    const double t90 = time_to(r, 0.90).first;
    std::uint64_t late = 0;
    for (const auto& rec : r.records)
      if (rec.value("event", "") == "finish" && rec.contains("late_dropped"))
        late = rec["late_dropped"].get<std::uint64_t>();
    const double ips = aggregator_images_per_s(r);
    fmt::print("transient stragglers ({:.0f} % of steps {}x slower, {} trainers), {}: time to 0.88 test accuracy {}, "
               "to 0.90 {}; best {:.3f}; {:.0f} images/s; whole run {:.1f} s{}\n",
               100 * slow.fraction, slow.factor, trainers, mode, seconds_or_not(t88), seconds_or_not(t90), best, ips,
               r.seconds, mode == "bsp-backup" ? fmt::format("; {} late gradients dropped", late) : std::string());
    out[mode] = {{"seconds_to_088", t88},    {"seconds_to_090", t90}, {"best_acc", best},
                 {"run_seconds", r.seconds}, {"images_per_s", ips},   {"late_dropped", late}};
  }
  for (const std::string mode : {"bsp-backup", "ssp", "asp"}) {
    if (out["bsp"]["seconds_to_088"].get<double>() > 0 && out[mode]["seconds_to_088"].get<double>() > 0)
      out[mode + "_over_bsp"] = out[mode]["seconds_to_088"].get<double>() / out["bsp"]["seconds_to_088"].get<double>();
    out[mode + "_run_over_bsp"] = out[mode]["run_seconds"].get<double>() / out["bsp"]["run_seconds"].get<double>();
  }
  return out;
}

/// job.balance: speed against off with trainer 1 slowed `factor`x (2 trainer nodes x 1 thread, tcp),
/// beside each trainer alone (unslowed, slowed): the ideal is the sum of the two alone. Rounds
/// alternate so machine noise hits every configuration alike; medians. With `torch_reference`,
/// each round also runs PyTorch DDP with rank 1 sleeping (factor - 1) x its unslowed median step
/// (measured once, first), the same slow-down.
nlohmann::json part_balance(int rounds, double factor, const std::string& torch_reference, std::size_t shards) {
  job_shape two;
  two.max_train = 25600;
  two.max_test = 100;
  two.nodes = tcp_nodes(2, 1, shards);
  job_shape alone = two;
  alone.max_train = 12800;
  alone.nodes = tcp_nodes(1, 1, shards);
  job_shape speed = two;
  speed.balance = "speed";
  // ssp and asp cut by speed too (no momentum: stale gradients already act as momentum)
  job_shape ssp = speed, asp = speed;
  ssp.consistency = "{mode: ssp, staleness: 3}";
  asp.consistency = "{mode: asp}";
  ssp.momentum = asp.momentum = 0.0f;
  std::map<std::string, std::vector<double>> ips;
  std::vector<double> slow_share;
  double straggler_ms = -1;
  if (!torch_reference.empty())
    if (const auto plain = ddp_throughput(torch_reference, 0)) {
      straggler_ms = (factor - 1) * plain->second;
      fmt::print("ddp unslowed: {:.0f} global images/s, {:.2f} ms per step; rank 1 will sleep {:.2f} ms per step\n",
                 plain->first, plain->second, straggler_ms);
    }
  for (int rep = 0; rep < rounds; ++rep) {
    if (straggler_ms >= 0)
      if (const auto ddp = ddp_throughput(torch_reference, straggler_ms))
        ips["ddp"].push_back(ddp->first);
    ips["off"].push_back(aggregator_images_per_s(run(two, "balance-off", {{1, factor}})));
    const auto rs = run(speed, "balance-speed", {{1, factor}});
    ips["speed"].push_back(aggregator_images_per_s(rs));
    for (const auto& rec : rs.records) // the last cut's share of the slowed trainer
      if (rec.value("event", "") == "balance")
        slow_share.push_back(rec["shares"][1].get<double>() / (2.0 * static_cast<double>(two.batch)));
    ips["ssp_speed"].push_back(aggregator_images_per_s(run(ssp, "balance-ssp-speed", {{1, factor}})));
    ips["asp_speed"].push_back(aggregator_images_per_s(run(asp, "balance-asp-speed", {{1, factor}})));
    ips["alone_fast"].push_back(aggregator_images_per_s(run(alone, "balance-alone-fast")));
    ips["alone_slow"].push_back(aggregator_images_per_s(run(alone, "balance-alone-slow", {{0, factor}})));
  }
  if (ips["ddp"].empty())
    ips.erase("ddp");
  nlohmann::json out;
  for (const auto& [k, v] : ips)
    out[k + "_images_per_s"] = median(v);
  const double ideal = median(ips["alone_fast"]) + median(ips["alone_slow"]);
  out["ideal_images_per_s"] = ideal;
  out["speed_over_ideal"] = median(ips["speed"]) / ideal;
  out["ssp_speed_over_ideal"] = median(ips["ssp_speed"]) / ideal;
  out["asp_speed_over_ideal"] = median(ips["asp_speed"]) / ideal;
  out["speed_over_off"] = median(ips["speed"]) / median(ips["off"]);
  out["slow_factor"] = factor;
  out["shards"] = shards;
  if (ips.count("ddp") > 0) {
    out["ddp_straggler_ms"] = straggler_ms;
    out["speed_over_ddp"] = median(ips["speed"]) / median(ips["ddp"]);
    out["off_over_ddp"] = median(ips["off"]) / median(ips["ddp"]);
  }
  out["slow_share_last_cut"] = slow_share.empty() ? -1.0 : slow_share.back();
  fmt::print("balance (trainer 1 at {}x, 2 x 1 thread, tcp, {} rounds, medians): off {:.0f} images/s, speed {:.0f} "
             "images/s ({:.2f}x); alone: unslowed {:.0f}, slowed {:.0f}, ideal sum {:.0f}; speed reaches {:.0f}% of "
             "it; the slowed trainer's last share {:.0f}% of the global batch\n",
             factor, rounds, median(ips["off"]), median(ips["speed"]), out["speed_over_off"].get<double>(),
             median(ips["alone_fast"]), median(ips["alone_slow"]), ideal, 100 * out["speed_over_ideal"].get<double>(),
             100 * out["slow_share_last_cut"].get<double>());
  fmt::print(
      "balance: speed under ssp (s = 3) {:.0f} images/s ({:.0f}% of the ideal sum), under asp {:.0f} ({:.0f}%)\n",
      median(ips["ssp_speed"]), 100 * out["ssp_speed_over_ideal"].get<double>(), median(ips["asp_speed"]),
      100 * out["asp_speed_over_ideal"].get<double>());
  return out;
}

/// Trainer recovery: a trainer throws at clock 50 (the test hook); its node's supervisor restarts
/// it after the backoff (0.5 s by default) and it re-syncs. Recovery = failure -> its first applied
/// step, from the trainer's "recovered" event; median over repeats.
nlohmann::json part_recovery() {
  job_shape j;
  j.max_train = 6400;
  j.max_test = 100;
  j.nodes =
      "    - {name: main, roles: [aggregator, loader, trainer], endpoint: \"inproc://bench-recovery\", trainers: 2}";
  std::vector<double> times;
  for (int rep = 0; rep < 5; ++rep) {
    const auto r = run(j, "recovery", {}, {{1, 50}});
    for (const auto& rec : r.records)
      if (rec.value("event", "") == "recovered")
        times.push_back(rec["recovery_s"].get<double>());
  }
  const double m = median(times);
  fmt::print("recovery: trainer failure -> first applied step after its restart: median {:.3f} s over {} runs "
             "(backoff 0.5 s included)\n",
             m, times.size());
  return {{"trainer_recovery_s_median", m}, {"runs", times.size()}, {"all", times}};
}

// ---- process-level recovery: real troupe-node processes, faults from outside ----

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

pid_t spawn_node(const std::vector<std::string>& args, const std::filesystem::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> argv;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    throw std::runtime_error(fmt::format("cannot start {}: {}", args[0], std::strerror(rc)));
  return pid;
}

/// The aggregator's progress records (one per applied bsp round at print_freq 1) and events, parsed
/// from its log as far as it is written.
std::vector<nlohmann::json> aggregator_records(const std::filesystem::path& log) {
  std::vector<nlohmann::json> out;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    auto rec = nlohmann::json::parse(line, nullptr, false);
    if (rec.is_object() && rec.value("actor", "") == "aggregator")
      out.push_back(std::move(rec));
  }
  return out;
}

bool is_progress(const nlohmann::json& rec) {
  return rec.contains("loss") && rec.contains("version");
}

/// The four nodes (agg, loader, t0, t1) as troupe-node processes over ipc, with every byte to and
/// from t1 passing through a fault proxy (in pass mode unless a scenario says otherwise).
class process_cluster {
public:
  explicit process_cluster(const std::string& tag)
      : dir_(std::filesystem::temp_directory_path() / fmt::format("troupe-bench-{}-{}", tag, ::getpid())) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    job_shape j;
    j.max_train = 6400;
    j.max_test = 100;
    j.epochs = 50; // far longer than a measurement: SIGTERM ends the run
    j.print_freq = 1;
    j.checkpoint_every = 10;
    auto ipc = [&](const std::string& n) { return fmt::format("ipc://{}/sockets/{}.sock", dir_.string(), n); };
    auto nodes = [&](const std::map<std::string, std::string>& ep) {
      return fmt::format("    - {{name: agg, roles: [aggregator], endpoint: \"{}\"}}\n"
                         "    - {{name: loader, roles: [loader], endpoint: \"{}\"}}\n"
                         "    - {{name: t0, roles: [trainer], endpoint: \"{}\"}}\n"
                         "    - {{name: t1, roles: [trainer], endpoint: \"{}\"}}",
                         ep.at("agg"), ep.at("loader"), ep.at("t0"), ep.at("t1"));
    };
    std::map<std::string, std::string> direct, from_t1;
    for (const std::string n : {"agg", "loader", "t0", "t1"})
      direct[n] = from_t1[n] = ipc(n);
    for (const std::string n : {"agg", "loader", "t0"})
      from_t1[n] = proxy_.add_route(ipc(n));
    direct["t1"] = proxy_.add_route(ipc("t1"));
    j.nodes = nodes(direct);
    std::ofstream(dir_ / "others.yaml") << yaml_of(j, dir_);
    j.nodes = nodes(from_t1);
    std::ofstream(dir_ / "t1.yaml") << yaml_of(j, dir_);
    for (const std::string n : {"agg", "loader", "t0", "t1"})
      start(n);
  }

  ~process_cluster() {
    for (auto& [name, pid] : pids_)
      ::kill(pid, SIGTERM);
    const auto deadline = clock_type::now() + std::chrono::seconds(30);
    for (auto& [name, pid] : pids_) {
      int status = 0;
      while (::waitpid(pid, &status, WNOHANG) != pid) {
        if (clock_type::now() > deadline) {
          ::kill(pid, SIGKILL);
          ::waitpid(pid, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    std::filesystem::remove_all(dir_);
  }

  void start(const std::string& node) {
    const std::string role = node == "agg" ? "aggregator" : node == "loader" ? "loader" : "trainer";
    pids_[node] = spawn_node({TROUPE_NODE_BINARY, "--role", role, "--name", node, "--config",
                              (dir_ / (node == "t1" ? "t1.yaml" : "others.yaml")).string()},
                             dir_ / (node + ".log"));
  }

  /// kill -9, reaped.
  void kill9(const std::string& node) {
    ::kill(pids_.at(node), SIGKILL);
    int status = 0;
    ::waitpid(pids_.at(node), &status, 0);
  }

  std::vector<nlohmann::json> records() const { return aggregator_records(dir_ / "metrics" / "agg.jsonl"); }

  /// Waits (20 ms polls, up to `limit`) for a record that `pick` accepts; returns it, or null.
  template <class Pick>
  nlohmann::json wait_record(Pick pick, double limit_s) const {
    const auto deadline = clock_type::now() + std::chrono::duration<double>(limit_s);
    for (;;) {
      for (const auto& rec : records())
        if (pick(rec))
          return rec;
      if (clock_type::now() > deadline)
        return nullptr;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  /// The newest applied version among the progress records stamped before `ts`.
  std::uint64_t version_before(double ts) const {
    std::uint64_t v = 0;
    for (const auto& rec : records())
      if (is_progress(rec) && rec["ts"].get<double>() <= ts)
        v = std::max<std::uint64_t>(v, rec["version"].get<std::uint64_t>());
    return v;
  }

  std::string log_of(const std::string& node) const {
    std::ifstream in(dir_ / (node + ".log"));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  troupe::test::fault_proxy& proxy() { return proxy_; }

private:
  std::filesystem::path dir_;
  troupe::test::fault_proxy proxy_;
  std::map<std::string, pid_t> pids_;
};

struct recovery_sample {
  double recovery_s = -1;   ///< failure (detection, heal) -> first applied step that needed the recovered node
  double detect_s = -1;     ///< failure -> the aggregator's peer_lost; -1 if it never declared one
  double rewound = 0;       ///< aggregator: versions lost (newest before the kill - the checkpoint resumed)
  double next_round_s = -1; ///< partition: heal -> the first round t1 computed after the heal (version + 2)
};

/// One scenario on a fresh cluster, the fault injected at version 35 (checkpoints every 10, so
/// a restarted aggregator loses 5 versions):
///   trainer            kill -9 of t1, restarted at once (a process supervisor): failure -> first step
///   trainer-detected   kill -9 of t1, restarted once the aggregator declares it lost: detection -> first step
///   aggregator         kill -9, restarted at once, resumes from its checkpoint: failure -> first step
///   partition          t1 blackholed until declared lost (+0.5 s), then healed: heal -> first step
recovery_sample measure_process_recovery(const std::string& scenario) {
  process_cluster c("process-recovery-" + scenario);
  const double limit = 120;
  if (c.wait_record([](const nlohmann::json& r) { return is_progress(r) && r["version"].get<std::uint64_t>() >= 35; },
                    limit)
          .is_null())
    throw std::runtime_error("process-recovery: the cluster did not reach version 35:\n" + c.log_of("agg"));
  recovery_sample s;
  auto lost_t1 = [](const nlohmann::json& r) {
    return r.value("event", "") == "peer_lost" && r.value("target", "") == "t1";
  };
  if (scenario == "trainer" || scenario == "trainer-detected") {
    const double failed_at = wall_now();
    c.kill9("t1");
    double from = failed_at;
    if (scenario == "trainer-detected") {
      const auto lost = c.wait_record(lost_t1, limit);
      if (lost.is_null())
        throw std::runtime_error("process-recovery: the killed t1 was never declared lost:\n" + c.log_of("agg"));
      from = lost["ts"].get<double>();
    }
    c.start("t1");
    // In bsp a round needs t1's gradient; at most one round (t1's last push) can still complete
    // without the new process, so version >= v + 2 needs the restarted trainer.
    const auto v = c.version_before(failed_at);
    const auto first = c.wait_record(
        [&](const nlohmann::json& r) { return is_progress(r) && r["version"].get<std::uint64_t>() >= v + 2; }, limit);
    if (first.is_null())
      throw std::runtime_error("process-recovery: no step after restarting t1:\n" + c.log_of("agg"));
    s.recovery_s = first["ts"].get<double>() - from;
    if (const auto lost = c.wait_record(lost_t1, 0); !lost.is_null())
      s.detect_s = lost["ts"].get<double>() - failed_at;
  } else if (scenario == "aggregator") {
    const double failed_at = wall_now();
    c.kill9("agg");
    const auto v = c.version_before(failed_at);
    c.start("agg"); // resumes from its newest checkpoint
    const auto first = c.wait_record(
        [&](const nlohmann::json& r) { return is_progress(r) && r["ts"].get<double>() > failed_at; }, limit);
    if (first.is_null())
      throw std::runtime_error("process-recovery: no step after restarting the aggregator:\n" + c.log_of("agg"));
    s.recovery_s = first["ts"].get<double>() - failed_at;
    s.rewound = static_cast<double>(v) - static_cast<double>(first["version"].get<std::uint64_t>() - 1);
  } else {
    const double cut_at = wall_now();
    c.proxy().blackhole();
    const auto lost = c.wait_record(lost_t1, limit);
    if (lost.is_null())
      throw std::runtime_error("process-recovery: the partition of t1 was never detected:\n" + c.log_of("agg"));
    s.detect_s = lost["ts"].get<double>() - cut_at;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const double healed_at = wall_now();
    const auto v = c.version_before(healed_at);
    c.proxy().heal();
    const auto first = c.wait_record(
        [&](const nlohmann::json& r) { return is_progress(r) && r["version"].get<std::uint64_t>() > v; }, limit);
    if (first.is_null())
      throw std::runtime_error("process-recovery: no step after healing the partition:\n" + c.log_of("agg"));
    s.recovery_s = first["ts"].get<double>() - healed_at;
    const auto next = c.wait_record(
        [&](const nlohmann::json& r) { return is_progress(r) && r["version"].get<std::uint64_t>() > v + 1; }, limit);
    if (!next.is_null())
      s.next_round_s = next["ts"].get<double>() - healed_at;
  }
  return s;
}

nlohmann::json part_process_recovery(int repeats) {
  nlohmann::json out;
  fmt::print("process recovery (4 troupe-node processes, bsp, ipc; t1 behind a fault proxy), {} repeats each:\n",
             repeats);
  fmt::print("  {:<52} {:>8} {:>8} {:>8}  {}\n", "fault -> first applied step", "median s", "min s", "max s",
             "detection (median)");
  for (const std::string scenario : {"trainer", "trainer-detected", "aggregator", "partition"}) {
    std::vector<double> rec, det, rew, next;
    for (int i = 0; i < repeats; ++i) {
      const auto s = measure_process_recovery(scenario);
      rec.push_back(s.recovery_s);
      if (s.detect_s >= 0)
        det.push_back(s.detect_s);
      rew.push_back(s.rewound);
      if (s.next_round_s >= 0)
        next.push_back(s.next_round_s);
    }
    const char* label = scenario == "trainer"            ? "kill -9 trainer, restarted at once: failure ->"
                        : scenario == "trainer-detected" ? "kill -9 trainer, restarted on detection: detection ->"
                        : scenario == "aggregator"       ? "kill -9 aggregator, restarted: failure ->"
                                                         : "partition (t1) healed: heal ->";
    fmt::print("  {:<52} {:>8.3f} {:>8.3f} {:>8.3f}  {}\n", label, median(rec),
               *std::min_element(rec.begin(), rec.end()), *std::max_element(rec.begin(), rec.end()),
               det.empty() ? std::string("not declared lost")
                           : fmt::format("{:.2f} s after the fault ({} of {})", median(det), det.size(), repeats));
    out[scenario] = {{"recovery_s_median", median(rec)}, {"recovery_s", rec}, {"detect_s", det}};
    if (scenario == "aggregator") {
      out[scenario]["rewound_versions_median"] = median(rew);
      fmt::print("  {:<52} versions redone after the resume: median {:.0f}\n", "", median(rew));
    }
    if (scenario == "partition" && !next.empty()) {
      out[scenario]["next_round_s_median"] = median(next);
      fmt::print("  {:<52} heal -> first round t1 computed after it: median {:.3f} s\n", "", median(next));
    }
  }
  fmt::print("  (\"-> first step\": the aggregator's first applied update that needed the recovered node)\n");
  return out;
}

/// What metrics cost a trainer per step at the default rate: four spans per step, and every
/// print_freq = 100 steps a progress record plus the spans record, serialised to JSON (the
/// metrics actor writes them on another thread). Measured directly (repeatable), then compared
/// with the step time of the 2-trainer run.
nlohmann::json part_metrics(double step_seconds) {
  const int steps = 20000, print_freq = 100;
  runtime::span_log spans;
  std::size_t bytes = 0;
  const auto t0 = clock_type::now();
  for (int i = 1; i <= steps; ++i) {
    const auto now = runtime::span_log::wall::now();
    for (const char* name : {"wait_params", "compute", "push", "wait_batch"})
      spans.add(name, now, now, runtime::gradient_id(0, static_cast<std::uint64_t>(i)));
    if (i % print_freq == 0) {
      auto r = runtime::make_record("t0", "trainer-0", "trainer", static_cast<std::uint64_t>(i));
      r["loss"] = 0.5;
      r["acc"] = 0.8;
      r["images_per_s"] = 1000.0;
      bytes += r.dump().size();
      auto sp = runtime::make_record("t0", "trainer-0", "trainer", static_cast<std::uint64_t>(i));
      sp["event"] = "spans";
      sp["spans"] = spans.take();
      bytes += sp.dump().size();
    }
  }
  const double per_step = std::chrono::duration<double>(clock_type::now() - t0).count() / steps;
  const double fraction = step_seconds > 0 ? per_step / step_seconds : 0;
  fmt::print("metrics: {:.2f} us per step at print_freq {} ({:.0f} bytes/step of JSON) = {:.3f}% of a {:.1f} ms step\n",
             per_step * 1e6, print_freq, static_cast<double>(bytes) / steps, 100 * fraction, step_seconds * 1e3);
  return {{"us_per_step", per_step * 1e6},
          {"bytes_per_step", static_cast<double>(bytes) / steps},
          {"step_ms", step_seconds * 1e3},
          {"fraction_of_step", fraction}};
}

} // namespace

int main(int argc, char** argv) {
  std::string part = "all";
  CLI::App app{"Benchmarks of the Troupe actor runtime"};
  int repeats = 3;
  app.add_option("--part", part,
                 "throughput | roundtrip | scaling | shards | overlap | straggler | transient | balance | metrics | "
                 "recovery | process-recovery | all")
      ->check(CLI::IsMember({"throughput", "roundtrip", "scaling", "shards", "overlap", "straggler", "transient",
                             "balance", "metrics", "recovery", "process-recovery", "all"}));
  app.add_option("--repeats", repeats,
                 "Repeats of each process-recovery scenario; rounds of the balance, roundtrip and overlap parts")
      ->check(CLI::PositiveNumber);
  std::string torch_reference;
  app.add_option("--torch-reference", torch_reference,
                 "Path of ../shared/bench/torch_reference.py: the roundtrip part alternates with its gloo allreduce, "
                 "the balance part with its DDP under the same straggler, the overlap part with its DDP unslowed");
  std::vector<std::size_t> roundtrip_floats;
  app.add_option("--roundtrip-floats", roundtrip_floats, "Sizes of the roundtrip part (default 225034, 1M, 16M, 64M)");
  bool skip_whole = false;
  app.add_flag("--no-whole", skip_whole, "Roundtrip part: skip the whole-frame (before wire version 3) comparison");
  int io_threads = 1;
  app.add_option("--io-threads", io_threads, "Roundtrip part: ZeroMQ I/O threads of the aggregator's context")
      ->check(CLI::PositiveNumber);
  std::vector<int> trainer_counts{1, 2, 4, 8, 16, 32};
  app.add_option("--trainers", trainer_counts, "Scaling part: trainer counts (default 1 2 4 8 16 32)");
  std::size_t shard_floats = 25'000'000;
  app.add_option("--shard-floats", shard_floats, "Shards part: parameters of the synthetic model (default 25M)");
  std::vector<std::size_t> shard_counts{1, 2, 4};
  app.add_option("--shards", shard_counts, "Shards part: shard counts K (default 1 2 4)");
  int shard_trainers = 4;
  app.add_option("--shard-trainers", shard_trainers, "Shards part: trainers (default 4)")->check(CLI::PositiveNumber);
  std::size_t overlap_shards = 2;
  app.add_option("--overlap-shards", overlap_shards, "Overlap part: shards on the aggregator's node (default 2)")
      ->check(CLI::Range(2, 64));
  std::size_t balance_shards = 1;
  app.add_option("--balance-shards", balance_shards,
                 "Balance part: aggregator shards on the aggregator's node (default 1); with 2 or more, sharded "
                 "pushes leave during backward")
      ->check(CLI::Range(1, 64));
  double slow_factor = 3.0;
  app.add_option("--slow-factor", slow_factor,
                 "Balance part: how many times slower trainer 1 is (default 3); with --torch-reference, DDP's rank 1 "
                 "sleeps the matching time")
      ->check(CLI::Range(1.0, 100.0));
  std::string transient = "0.1=5";
  app.add_option("--transient-slow", transient,
                 "Transient part: FRACTION=FACTOR of every trainer's steps made slower (default 0.1=5)");
  std::string straggler_transport = "inproc";
  app.add_option("--straggler-transport", straggler_transport,
                 "Straggler part: inproc (one node, the default) or tcp (an aggregator + loader node and two trainer "
                 "nodes)")
      ->check(CLI::IsMember({"inproc", "tcp"}));
  const std::vector<std::string> all_straggler_modes{"bsp", "bsp-balance", "ssp", "ssp-balance", "asp", "asp-balance"};
  std::vector<std::string> straggler_modes = all_straggler_modes;
  app.add_option("--straggler-modes", straggler_modes, "Straggler part: the modes to run, in order (default all six)")
      ->check(CLI::IsMember(all_straggler_modes));
  std::size_t transient_trainers = 3, transient_epochs = 4, transient_max_train = 0;
  app.add_option("--transient-trainers", transient_trainers, "Transient part: trainers (default 3)")
      ->check(CLI::Range(2, 64));
  app.add_option("--transient-epochs", transient_epochs, "Transient part: epochs (default 4)")
      ->check(CLI::PositiveNumber);
  app.add_option("--transient-max-train", transient_max_train,
                 "Transient part: training samples (default 0: the whole set; small for a smoke run)");
  std::string conv = "auto";
  app.add_option("--conv", conv,
                 "conv2d backend of the in-process trainers: auto (per layer, the default), gemm, dnnl, naive")
      ->envname("TROUPE_CONV")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  ps::transient_slowdown transient_slow;
  try {
    transient_slow = ps::parse_transient_slowdown(transient);
    tensor::set_conv_backend(tensor::parse_conv_algo(conv)); // refuses dnnl here if this build lacks it
  } catch (const std::exception& e) {
    std::cerr << "bench_cluster: " << e.what() << '\n';
    return 2;
  }
  train::tune_allocator();
  nlohmann::json summary{{"benchmark", "cluster"}, {"conv", conv}, {"openblas_core", tensor::blas::core_name()}};
  if (const auto note = tensor::blas::kernel_note(); !note.empty())
    fmt::print("{}\n", note);
  if (part == "roundtrip" || part == "all")
    summary["roundtrip"] = part_roundtrip(repeats, torch_reference, roundtrip_floats, !skip_whole, io_threads);
  if (part == "scaling" || part == "all")
    summary["scaling"] = part_scaling(trainer_counts);
  if (part == "shards" || part == "all")
    summary["shards"] = part_shards(repeats, shard_floats, shard_trainers, shard_counts);
  if (part == "overlap" || part == "all")
    summary["overlap"] = part_overlap(repeats, overlap_shards, torch_reference);
  double step_seconds = 64.0 / 5000.0; // batch 2 x 32 at the throughput part's typical rate
  if (part == "throughput" || part == "all") {
    summary["throughput"] = part_throughput();
    step_seconds = 64.0 / summary["throughput"]["two_trainers_images_per_s"].get<double>();
  }
  if (part == "metrics" || part == "all")
    summary["metrics"] = part_metrics(step_seconds);
  if (part == "recovery" || part == "all")
    summary["recovery"] = part_recovery();
  if (part == "process-recovery" || part == "all")
    summary["process_recovery"] = part_process_recovery(repeats);
  if (part == "straggler" || part == "all")
    summary["straggler"] = part_straggler(straggler_transport == "tcp", straggler_modes);
  if (part == "transient" || part == "all")
    summary["transient"] = part_transient(transient_slow, transient_trainers, transient_epochs, transient_max_train);
  if (part == "balance" || part == "all")
    summary["balance"] = part_balance(repeats, slow_factor, torch_reference, balance_shards);
  std::cout << summary.dump() << std::endl;
  return 0;
}
