// Whole clusters (aggregator + loader + N trainers) inside the test process, over inproc:// and
// tcp://127.0.0.1 with ephemeral ports, for each consistency model.

#include "actors/node.hpp"

#include <algorithm>
#include <map>
#include <sstream>

#include "config/topology.hpp"
#include "observe/records.hpp"
#include "observe/schema.hpp"
#include "observe/timeline.hpp"
#include "train/fit.hpp"
#include "train/model_file.hpp"

#include "cluster_run.hpp"

using namespace troupe;
using test::cluster_run;
using test::final_test_acc;
using test::run_cluster;

TEST_CASE("clusters of 1, 2 and 4 trainers train in every consistency mode over inproc and tcp", "[actors][cluster]") {
  test::cluster_case c;
  c.transport = GENERATE(as<std::string>{}, "inproc", "tcp");
  c.trainers = GENERATE(as<std::size_t>{}, 1, 2, 4);
  c.mode = GENERATE(as<std::string>{}, "bsp", "ssp", "asp");
  c.staleness = c.mode == "ssp" ? 2 : 0;
  c.momentum = c.mode == "bsp" ? 0.9f : 0.0f;
  c.max_train = 1280;
  CAPTURE(c.transport, c.trainers, c.mode);
  test::scratch_dir dir("cluster");
  const auto r = run_cluster(c, dir.path);
  INFO(r.console);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.params.size() == 225034);
  const std::size_t clocks = c.max_train / c.trainers / c.batch;
  // One update per clock in bsp; one per push otherwise.
  const auto last = r.aggregator_records.back();
  REQUIRE(last["version"].get<std::size_t>() == (c.mode == "bsp" ? clocks : clocks * c.trainers));
  // 1280 images, one epoch: well above the 0.10 of chance. Asynchronous modes see more staleness
  // the more loaded the machine is (4 trainers on 2 cores), so they get a lower bar.
  REQUIRE(final_test_acc(r) > (c.mode == "bsp" ? 0.3 : 0.2));
}

TEST_CASE("clusters train with compressed gradients: fp16 and top-k 1 % with error feedback",
          "[actors][cluster][compression]") {
  // 2 trainers x 16 images, 40 bsp clocks over tcp (the compressed tensors go through real
  // sockets): the same bar as uncompressed bsp above, and each trainer's records say how many
  // bytes a push took.
  test::cluster_case c;
  c.transport = "tcp";
  c.max_train = 1280;
  const std::string mode = GENERATE(as<std::string>{}, "fp16", "{mode: topk, ratio: 0.01}");
  c.compression = mode;
  CAPTURE(mode);
  test::scratch_dir dir("cluster-compression");
  const auto r = run_cluster(c, dir.path);
  INFO(r.console);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.params.size() == 225034);
  REQUIRE(r.aggregator_records.back()["version"].get<std::size_t>() == 40);
  REQUIRE(final_test_acc(r) > 0.3);
  // P = 225034: fp16 sends 2 bytes per parameter, top-k 1 % sends ceil(0.01 P) = 2251 (position, value) pairs.
  const std::size_t want = mode == "fp16" ? 2 * 225034 : 8 * 2251;
  std::size_t trainer_records = 0;
  for (const auto node : {"t0", "t1"})
    for (const auto& rec : test::read_records(dir.path / "metrics" / (std::string(node) + ".jsonl"))) {
      if (rec.value("role", "") != "trainer" || rec.contains("event"))
        continue;
      ++trainer_records;
      REQUIRE(rec["push_bytes"].get<std::size_t>() == want);
      REQUIRE(rec.contains("residual_norm"));
      REQUIRE(observe::validate_record(rec).empty());
    }
  REQUIRE(trainer_records == 2 * 40);
}

namespace {

/// Final parameters of one process training the same job with batch N*b.
std::vector<float> single_process(const test::cluster_case& c, const std::filesystem::path& dir) {
  train::fit_options f;
  f.model_path = test::source_dir() + "/examples/models/fmnist_cnn.yaml";
  f.epochs = c.epochs;
  f.batch_size = c.trainers * c.batch;
  f.threads = 1;
  f.seed = c.seed;
  f.max_train_samples = c.max_train;
  f.max_test_samples = c.max_test;
  f.optimizer.momentum = 0.9f;
  f.optimizer.weight_decay = 5e-4f;
  f.schedule.kind = "cosine";
  f.schedule.base_lr = 0.05f;
  f.print_freq = 0;
  f.out_dir = (dir / "single").string();
  std::ostringstream log;
  const auto single = train::fit(f, log);
  REQUIRE(single.steps == 10);
  return single.params;
}

/// The same steps up to float summation order.
void require_close(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  double max_diff = 0, max_abs = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::abs(got[i] - want[i])));
    max_abs = std::max(max_abs, static_cast<double>(std::abs(want[i])));
  }
  INFO("max |difference| " << max_diff << " of max |param| " << max_abs);
  REQUIRE(max_diff < 1e-4 * max_abs);
}

} // namespace

TEST_CASE("bsp with N trainers x batch b matches one process with batch N*b", "[actors][cluster][bsp]") {
  // Same samples per step, same optimizer and schedule: only float summation order differs
  // (slices of the batch summed per trainer, then across trainers), and training amplifies such
  // differences slowly, so ten steps are compared.
  test::cluster_case c;
  c.trainers = GENERATE(as<std::size_t>{}, 2, 4);
  c.batch = 64 / c.trainers;
  c.epochs = 1;
  test::scratch_dir dir("bsp-equiv");
  const auto r = run_cluster(c, dir.path);
  REQUIRE(r.exit_code == 0);
  require_close(r.params, single_process(c, dir.path));
}

TEST_CASE("bsp balanced by speed gives a 4x slower trainer smaller shares and still matches one process",
          "[actors][cluster][bsp][balance]") {
  // The global batch of each clock is the same N*b samples however it is cut, and the aggregator
  // weights gradients by samples: only who computes which sample changes.
  test::cluster_case c;
  c.trainers = 2;
  c.batch = 32;
  c.balance = "{mode: speed, every_clocks: 3}";
  test::scratch_dir dir("bsp-balance");
  const auto r = run_cluster(c, dir.path, {{1, 4.0}});
  REQUIRE(r.exit_code == 0);
  require_close(r.params, single_process(c, dir.path));
  std::vector<nlohmann::json> cuts;
  for (auto& rec : test::read_records(dir.path / "metrics" / "main.jsonl"))
    if (rec.value("event", "") == "balance")
      cuts.push_back(rec);
  REQUIRE(cuts.size() >= 3);                                          // clocks 0, 3, 6, 9 (10 clocks of 64 samples)
  REQUIRE(cuts.front()["shares"] == nlohmann::json::array({32, 32})); // nothing measured yet
  const auto last = cuts.back()["shares"];
  INFO(cuts.back().dump());
  REQUIRE(last[0].get<int>() + last[1].get<int>() == 64);
  REQUIRE(last[1].get<int>() < 24); // the slowed trainer's share shrank (about 64/5 at 4x)
}

TEST_CASE("ssp and asp balanced by speed give a 4x slower trainer smaller shares and still learn",
          "[actors][cluster][ssp][asp][balance]") {
  // The fast trainer computes more samples per clock instead of running clocks ahead: with equal
  // shards it would sit at the staleness bound (ssp) or push ever staler gradients (asp).
  test::cluster_case c;
  c.trainers = 2;
  c.batch = 32;
  c.mode = GENERATE(std::string("ssp"), std::string("asp"));
  c.staleness = 3;
  c.momentum = 0.0f;
  c.max_train = 1280; // 20 clocks
  c.balance = "{mode: speed, every_clocks: 3}";
  test::scratch_dir dir("async-balance");
  const auto r = run_cluster(c, dir.path, {{1, 4.0}});
  INFO(r.console);
  REQUIRE(r.exit_code == 0);
  std::vector<nlohmann::json> cuts;
  for (auto& rec : test::read_records(dir.path / "metrics" / "main.jsonl"))
    if (rec.value("event", "") == "balance")
      cuts.push_back(rec);
  REQUIRE(cuts.size() >= 4);
  const auto last = cuts.back()["shares"];
  INFO(cuts.back().dump());
  REQUIRE(last[0].get<int>() + last[1].get<int>() == 64);
  REQUIRE(last[1].get<int>() < 24);
  REQUIRE(final_test_acc(r) > 0.3); // it learned (10 classes: chance is 0.1)
}

TEST_CASE("ssp never lets a trainer run more than s clocks ahead of a slowed one", "[actors][cluster][ssp]") {
  test::cluster_case c;
  c.trainers = 3;
  c.mode = "ssp";
  c.staleness = 2;
  c.momentum = 0.0f;
  c.max_train = 480;
  test::scratch_dir dir("ssp-bound");
  const auto r = run_cluster(c, dir.path, {{0, 4.0}});
  REQUIRE(r.exit_code == 0);
  std::size_t max_lag = 0, records = 0;
  for (const auto& rec : r.aggregator_records)
    if (rec.contains("clock_lag"))
      for (const auto& lag : rec["clock_lag"]) {
        max_lag = std::max(max_lag, lag.get<std::size_t>());
        ++records;
      }
  REQUIRE(records > 0);
  // A trainer that was allowed clock c (c <= slowest + s) has pushed c + 1 when the lag is read.
  REQUIRE(max_lag <= c.staleness + 1);
  REQUIRE(max_lag >= 1); // the fast trainers did run ahead of the slowed one
}

TEST_CASE("the timeline of a run has spans from every actor and links pushes to applies",
          "[actors][cluster][timeline]") {
  test::cluster_case c;
  c.print_freq = 5;
  test::scratch_dir dir("timeline");
  const auto r = run_cluster(c, dir.path);
  REQUIRE(r.exit_code == 0);
  const auto trace = observe::build_timeline(observe::read_records((dir.path / "metrics").string()));
  std::map<int, std::string> thread_names;
  std::map<std::string, std::size_t> spans_per_actor;
  std::size_t starts = 0, finishes = 0;
  for (const auto& e : trace["traceEvents"]) {
    REQUIRE(e.contains("ph"));
    REQUIRE(e.contains("pid"));
    if (e["ph"] == "M" && e["name"] == "thread_name")
      thread_names[e["tid"].get<int>()] = e["args"]["name"].get<std::string>();
    if (e["ph"] == "X") {
      REQUIRE(e["ts"].get<double>() >= 0);
      REQUIRE(e["dur"].get<double>() >= 0);
      ++spans_per_actor[thread_names.at(e["tid"].get<int>())];
    }
    starts += e["ph"] == "s";
    finishes += e["ph"] == "f";
  }
  for (const std::string actor : {"aggregator", "loader", "trainer-0", "trainer-1"}) {
    CAPTURE(actor);
    REQUIRE(spans_per_actor[actor] > 0);
  }
  const std::size_t pushes = 2 * 640 / (2 * 16); // every gradient of both trainers
  REQUIRE(starts == pushes);
  REQUIRE(finishes == pushes);
}

TEST_CASE("a trainer that throws is restarted by its supervisor and the bsp run ends as if it never failed",
          "[actors][cluster][supervisor][faults]") {
  test::cluster_case c;
  c.trainers = 2;
  c.epochs = 2;
  test::scratch_dir clean_dir("supervisor-clean"), failed_dir("supervisor-failed");
  const auto clean = run_cluster(c, clean_dir.path);
  REQUIRE(clean.exit_code == 0);

  const auto failed = run_cluster(c, failed_dir.path, {}, {{1, 7}}); // trainer 1 throws about to compute clock 7
  REQUIRE(failed.exit_code == 0);
  // The restarted trainer re-syncs parameters and its clock; the loader continues its shard at
  // that clock; bsp is deterministic: the same final parameters, bit for bit.
  REQUIRE(!failed.params.empty());
  REQUIRE(failed.params == clean.params);
  std::map<std::string, double> events;
  for (const auto& rec : test::read_records(failed_dir.path / "metrics" / "main.jsonl"))
    if (rec.contains("event"))
      events[rec["event"].get<std::string>()] = rec.value("recovery_s", rec.value("backoff_s", 0.0));
  REQUIRE(events.count("failure") == 1);
  REQUIRE(events.count("restart") == 1);
  REQUIRE(events.count("recovered") == 1);
  REQUIRE(events["recovered"] > 0.0);
  REQUIRE(events["recovered"] < 10.0); // backoff 0.5 s + re-sync, measured failure -> first applied step
}

TEST_CASE("a restarted trainer of a compressed run continues without its residual and records that",
          "[actors][cluster][supervisor][faults][compression]") {
  test::cluster_case c;
  c.compression = "{mode: topk, ratio: 0.01}";
  test::scratch_dir dir("supervisor-compression");
  REQUIRE(run_cluster(c, dir.path, {}, {{1, 7}}).exit_code == 0); // trainer 1 throws about to compute clock 7
  std::vector<nlohmann::json> resets;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "main.jsonl"))
    if (rec.value("event", "") == "residual_reset")
      resets.push_back(rec);
  // Only the new incarnation of trainer 1 lost a residual; it says so at the clock it continues from.
  REQUIRE(resets.size() == 1);
  CHECK(resets[0]["target"] == "trainer-1");
  CHECK(resets[0]["reason"] == "start");
  CHECK(resets[0]["step"] == 7);
  CHECK(observe::validate_record(resets[0]).empty());
}

TEST_CASE("too many trainer failures within the period escalate: the node exits non-zero",
          "[actors][supervisor][faults]") {
  test::cluster_case c;
  test::scratch_dir dir("supervisor-escalate");
  auto yaml = test::topology_yaml(c, dir.path);
  const auto pos = yaml.find("  nodes:\n");
  yaml.insert(pos, "  supervisor: {max_restarts: 0}\n");
  const auto topo = config::parse_topology(yaml, "test.yaml");
  REQUIRE(topo.cluster.supervisor.max_restarts == 0);
  actors::run_options o;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  o.fail_trainers = {{0, 3}};
  REQUIRE(actors::run_nodes(topo, o) == 1);
  bool escalated = false;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "main.jsonl"))
    escalated = escalated || rec.value("event", "") == "escalation";
  REQUIRE(escalated);
}
