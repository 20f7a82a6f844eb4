// Sharded aggregators (ps/shard_plan.hpp) in whole clusters inside the test process: K shards
// must change nothing a user can see but the speed.

#include <algorithm>
#include <map>
#include <sstream>

#include "ps/shard_plan.hpp"
#include "train/checkpoint_store.hpp"

#include "cluster_run.hpp"

using namespace troupe;
using test::run_cluster;

namespace {

/// Steps of the checkpoint parts in shard s's directory.
std::vector<std::uint64_t> part_steps(const std::filesystem::path& dir, std::size_t s) {
  return train::checkpoint_store((dir / "checkpoints" / fmt::format("shard-{}", s)).string(), 1).steps();
}

} // namespace

TEST_CASE("bsp with K aggregator shards ends bit-identical to one aggregator", "[actors][cluster][shards]") {
  test::cluster_case c;
  c.transport = GENERATE(as<std::string>{}, "inproc", "tcp");
  c.trainers = 2;
  c.max_train = 320;
  test::scratch_dir one_dir("shards-one");
  const auto one = run_cluster(c, one_dir.path);
  REQUIRE(one.exit_code == 0);
  REQUIRE_FALSE(one.params.empty());

  c.shards = GENERATE(as<std::size_t>{}, 2, 3);
  INFO(c.transport << ", " << c.shards << " shards");
  test::scratch_dir dir("shards-k");
  const auto k = run_cluster(c, dir.path);
  REQUIRE(k.exit_code == 0);
  // Every float the same: each shard applies its range of the same sample-weighted mean with the
  // same element-wise optimizer, and shard 0 assembles the whole model from the shards' ranges.
  REQUIRE(k.params == one.params);
  // The same evaluations, from the assembled vector.
  auto accs = [](const test::cluster_run& r) {
    std::vector<double> out;
    for (const auto& rec : r.aggregator_records)
      if (rec.contains("test_acc"))
        out.push_back(rec["test_acc"].get<double>());
    return out;
  };
  REQUIRE_FALSE(accs(one).empty());
  REQUIRE(accs(k) == accs(one));
  // Each shard wrote its own checkpoint part at the same, final step.
  for (std::size_t s = 0; s < c.shards; ++s) {
    INFO("shard " << s);
    const auto steps = part_steps(dir.path, s);
    REQUIRE(steps.size() == 1);
    REQUIRE(steps == part_steps(dir.path, 0));
  }
}

TEST_CASE("bsp with compression and K aggregator shards ends bit-identical to one aggregator with it",
          "[actors][cluster][shards][compression]") {
  // The trainer compresses its whole gradient once (error feedback over the whole vector) and cuts
  // the packed form per shard. This failed, not reproducibly, while welcomes answering handshake
  // hellos put trainers back to clock 0 and dropped their residual (welcome::answers_clock).
  test::cluster_case c;
  c.transport = GENERATE(as<std::string>{}, "inproc", "tcp");
  c.compression = GENERATE(as<std::string>{}, "fp16", "{mode: topk, ratio: 0.01}");
  c.trainers = 2;
  c.max_train = 640;
  INFO(c.transport << ", " << c.compression);
  test::scratch_dir one_dir("shards-compressed-one");
  const auto one = run_cluster(c, one_dir.path);
  REQUIRE(one.exit_code == 0);
  REQUIRE_FALSE(one.params.empty());
  c.shards = 3;
  test::scratch_dir dir("shards-compressed-k");
  const auto k = run_cluster(c, dir.path);
  INFO(k.console);
  REQUIRE(k.exit_code == 0);
  REQUIRE(k.params == one.params);
  // No trainer went back: every welcome after the first answered a hello at its own clock.
  for (const auto& file : std::filesystem::directory_iterator(dir.path / "metrics"))
    if (file.path().extension() == ".jsonl")
      for (const auto& rec : test::read_records(file.path()))
        REQUIRE(rec.value("event", "") != "resync");
}

TEST_CASE("ssp and asp with aggregator shards train to the end", "[actors][cluster][shards]") {
  test::cluster_case c;
  c.transport = "tcp";
  c.trainers = 2;
  c.mode = GENERATE(as<std::string>{}, "ssp", "asp");
  c.staleness = 2;
  c.momentum = 0;
  c.shards = 3;
  INFO(c.mode);
  test::scratch_dir dir("shards-async");
  const auto r = run_cluster(c, dir.path);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.params.size() > 0);
  bool evaluated = false;
  for (const auto& rec : r.aggregator_records)
    if (rec.contains("test_acc")) {
      evaluated = true;
      REQUIRE(rec["test_acc"].get<double>() > 0.3); // 640 images, one epoch: well above chance (0.1)
    }
  REQUIRE(evaluated);
}

TEST_CASE("a failed aggregator shard is restarted in place, every shard rewinds with it, and bsp ends bit-identical",
          "[actors][cluster][shards][faults]") {
  test::cluster_case c;
  c.trainers = 2;
  c.epochs = 2;
  c.max_train = 320; // 10 clocks per epoch
  test::scratch_dir clean_dir("shards-clean");
  const auto clean = run_cluster(c, clean_dir.path);
  REQUIRE(clean.exit_code == 0);

  c.shards = 3;
  const std::size_t failing = GENERATE(as<std::size_t>{}, 0, 2);
  INFO("shard " << failing << " fails");
  test::scratch_dir dir("shards-failed");
  auto yaml = test::topology_yaml(c, dir.path);
  const std::string ckpt = "checkpoint:\n";
  yaml.insert(yaml.find(ckpt) + ckpt.size(), "  every_steps: 5\n");
  const auto topo = config::parse_topology(yaml, "test.yaml");
  actors::run_options o;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  o.fail_aggregator_shard = failing;
  o.fail_aggregator_at = 13; // after version 13: every shard goes back to step 10, the newest all of them wrote
  REQUIRE(actors::run_nodes(topo, o) == 0);
  INFO(console.str());
  std::vector<std::string> supervisor_events;
  std::map<std::string, std::uint64_t> rewound; // recording shard -> step
  for (const auto& rec : test::read_records(dir.path / "metrics" / "main.jsonl")) {
    if (rec.value("actor", "") == "supervisor") {
      CHECK(rec["target"] == ps::aggregator_shard_name(failing));
      supervisor_events.push_back(rec["event"].get<std::string>());
    }
    if (rec.value("event", "") == "rewind") {
      CHECK(rec["shard"] == failing);
      rewound[rec["actor"].get<std::string>()] = rec["step"].get<std::uint64_t>();
    }
  }
  CHECK(supervisor_events == std::vector<std::string>{"failure", "restart"});
  REQUIRE(rewound.size() == 3); // every shard, the restarted one included
  for (const auto& [shard, step] : rewound)
    CHECK(step == 10);
  CHECK(train::load_model((dir.path / "checkpoints" / "model_final.trpm").string()).params == clean.params);
}

namespace {

/// Runs case `c` for `epochs` epochs in `dir`, every node in this process, with a checkpoint part
/// every 5 steps; returns the exit code.
int run_with_parts(test::cluster_case c, const std::filesystem::path& dir, std::size_t epochs) {
  c.epochs = epochs;
  auto yaml = test::topology_yaml(c, dir);
  const std::string ckpt = "checkpoint:\n";
  yaml.insert(yaml.find(ckpt) + ckpt.size(), "  every_steps: 5\n");
  actors::run_options o;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  return actors::run_nodes(config::parse_topology(yaml, "test.yaml"), o);
}

} // namespace

TEST_CASE("a sharded run resumes every shard from the newest step all of them wrote", "[actors][cluster][shards]") {
  // A constant learning rate, so a 1-epoch run continued to 2 epochs is the 2-epoch run.
  test::cluster_case c;
  c.trainers = 2;
  c.max_train = 320; // 10 clocks per epoch
  c.schedule = "constant";
  c.epochs = 2;
  test::scratch_dir clean_dir("shards-resume-clean");
  const auto clean = run_cluster(c, clean_dir.path);
  REQUIRE(clean.exit_code == 0);

  c.shards = 3;
  test::scratch_dir dir("shards-resume");
  REQUIRE(run_with_parts(c, dir.path, 1) == 0);
  // A part newer than the others' (as if shard 2 crashed before writing step 10) is not used.
  std::filesystem::remove(dir.path / "checkpoints" / "shard-2" / train::checkpoint_store::file_name(10));
  std::filesystem::rename(dir.path / "metrics", dir.path / "metrics-first");
  REQUIRE(run_with_parts(c, dir.path, 2) == 0);
  std::size_t resumed = 0;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "main.jsonl"))
    if (rec.value("event", "") == "resume") {
      CHECK(rec["version"] == 5);
      ++resumed;
    }
  CHECK(resumed == 3);
  CHECK(train::load_model((dir.path / "checkpoints" / "model_final.trpm").string()).params == clean.params);
}

TEST_CASE("a shard whose part at the common step is unreadable ends the job naming the shard and the step",
          "[actors][cluster][shards]") {
  test::cluster_case c;
  c.trainers = 2;
  c.max_train = 320; // 10 clocks per epoch
  c.shards = 3;
  test::scratch_dir dir("shards-unreadable");
  REQUIRE(run_with_parts(c, dir.path, 1) == 0);
  // Shard 1's part at step 10, the newest every shard holds, is damaged: no shard may go back to
  // step 5 alone, and nothing may mix steps. The job ends, saying which part and why.
  std::ofstream(dir.path / "checkpoints" / "shard-1" / train::checkpoint_store::file_name(10), std::ios::trunc)
      << "not a checkpoint";
  std::filesystem::rename(dir.path / "metrics", dir.path / "metrics-first");
  REQUIRE(run_with_parts(c, dir.path, 2) != 0);
  std::string reason;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "main.jsonl"))
    if (rec.value("event", "") == "finish" && rec.value("actor", "") == "aggregator-1")
      reason = rec.value("reason", "");
  CAPTURE(reason);
  CHECK_THAT(reason, Catch::Contains("aggregator-1 failed to start") &&
                         Catch::Contains("its part of the checkpoint at step 10 is unreadable"));
}
