// Balance by speed across a restart (#13): the cuts of the global batch still in use are part of
// the aggregator's checkpoint and a restarted aggregator gives them back to the loader before the
// job goes on, so the clocks it replays are cut as they were the first time. A run replaying the
// recorded cuts (--replay-balance) then ends bit for bit where the interrupted run ended.

#include <sstream>

#include "actors/node.hpp"
#include "config/topology.hpp"
#include "ps/protocol.hpp"
#include "train/model_file.hpp"

#include "cluster_test_util.hpp"

using namespace troupe;

namespace {

struct outcome {
  std::vector<float> params;
  std::vector<nlohmann::json> cuts; ///< the loader's balance records, in order
  bool resumed = false;
};

/// 2 trainers × 32, cut by speed every 4 clocks, 20 clocks, a checkpoint every 5.
outcome run(const std::filesystem::path& dir, const actors::run_options& hooks) {
  test::cluster_case c;
  c.trainers = 2;
  c.batch = 32;
  c.epochs = 2;
  c.balance = "{mode: speed, every_clocks: 4}";
  auto yaml = test::topology_yaml(c, dir);
  const std::string ckpt = "checkpoint:\n";
  yaml.insert(yaml.find(ckpt) + ckpt.size(), "  every_steps: 5\n");
  const auto topo = config::parse_topology(yaml, "test.yaml");
  auto o = hooks;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  const int code = actors::run_nodes(topo, o);
  INFO(console.str());
  REQUIRE(code == 0);
  outcome r;
  r.params = train::load_model((dir / "checkpoints" / "model_final.trpm").string()).params;
  for (auto& rec : test::read_records(dir / "metrics" / "main.jsonl")) {
    if (rec.value("event", "") == "balance")
      r.cuts.push_back(rec);
    r.resumed = r.resumed || rec.value("event", "") == "resume";
  }
  return r;
}

} // namespace

TEST_CASE("an aggregator restarted mid-period with balance on keeps the period's cut, and replaying the cuts "
          "ends bit-identical",
          "[actors][supervisor][faults][balance]") {
  test::scratch_dir failed_dir("balance-failed"), replay_dir("balance-replay");
  // Trainer 1 three times slower: the cuts after the first period are far from equal. The
  // aggregator fails once it has applied version 12 and resumes from checkpoint 10, inside the
  // period of clocks 8-11.
  actors::run_options hooks;
  hooks.slow_trainers = {{1, 3.0}};
  hooks.fail_aggregator_at = 12;
  const auto failed = run(failed_dir.path, hooks);
  REQUIRE(failed.resumed);

  // Each period was cut once: the resumed aggregator gave the loader the cut of clocks 8-11 back
  // instead of letting it decide that period again from other speeds.
  std::map<std::uint64_t, nlohmann::json> by_period;
  for (const auto& cut : failed.cuts) {
    INFO(cut.dump());
    const auto from = cut["from_clock"].get<std::uint64_t>();
    CHECK(by_period.count(from) == 0);
    by_period[from] = cut["shares"];
  }
  REQUIRE(by_period.size() == 5); // clocks 0, 4, 8, 12, 16
  INFO(nlohmann::json(by_period).dump());
  CHECK(by_period.at(8)[1].get<int>() < 24); // the slowed trainer's share shrank

  // The same job with nobody slowed (its own cuts would stay near equal) and nothing failing,
  // replaying the recorded cuts: the same samples at the same clocks, the same parameters.
  actors::run_options replay;
  replay.balance_replay = ps::balance_cuts_from_json(
      [&] {
        nlohmann::json all = nlohmann::json::array();
        for (const auto& cut : failed.cuts)
          all.push_back(
              {{"from_clock", cut["from_clock"]}, {"shares", cut["shares"]}, {"weights", cut["samples_per_s"]}});
        return all;
      }(),
      "the failed run's records");
  const auto replayed = run(replay_dir.path, replay);
  CHECK_FALSE(replayed.resumed);
  CHECK(replayed.cuts.empty()); // every period was held, none decided
  REQUIRE(replayed.params.size() == failed.params.size());
  CHECK(replayed.params == failed.params);
}
