// OTP supervision strategies over a node's trainers: one_for_one restarts the failed trainer,
// one_for_all every trainer of the node, rest_for_one the failed one and those started after it.
// Each new incarnation re-syncs from the aggregator, so a deterministic bsp run still ends with the
// same parameters, bit for bit, as a run in which nothing failed.

#include "actors/node.hpp"

#include <set>
#include <sstream>

#include "config/topology.hpp"
#include "train/model_file.hpp"

#include "cluster_test_util.hpp"

using namespace troupe;

namespace {

struct outcome {
  int exit_code = -1;
  std::vector<float> params;
  std::vector<nlohmann::json> supervisor; ///< the supervisor's records, in order
};

outcome run(const test::cluster_case& c, const std::filesystem::path& dir, const std::string& strategy,
            std::map<std::size_t, std::uint64_t> fail) {
  auto yaml = test::topology_yaml(c, dir);
  yaml.insert(yaml.find("  nodes:\n"), "  supervisor: {strategy: " + strategy + ", backoff_s: 0.1}\n");
  const auto topo = config::parse_topology(yaml, "test.yaml");
  REQUIRE(topo.cluster.supervisor.strategy == strategy);
  actors::run_options o;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  o.fail_trainers = std::move(fail);
  outcome r;
  r.exit_code = actors::run_nodes(topo, o);
  INFO(console.str());
  REQUIRE(r.exit_code == 0);
  r.params = train::load_model((dir / "checkpoints" / "model_final.trpm").string()).params;
  for (const auto& rec : test::read_records(dir / "metrics" / "main.jsonl"))
    if (rec.value("actor", "") == "supervisor")
      r.supervisor.push_back(rec);
  return r;
}

std::set<std::string> restarted(const outcome& r) {
  std::set<std::string> out;
  for (const auto& rec : r.supervisor)
    if (rec.value("event", "") == "restart") {
      CHECK(rec["cause"] == "trainer-1");
      out.insert(rec["target"].get<std::string>());
    }
  return out;
}

} // namespace

TEST_CASE("one_for_all and rest_for_one restart the right trainers and bsp ends bit-identical",
          "[actors][supervisor][faults]") {
  test::cluster_case c;
  c.trainers = 3;
  c.epochs = 2;
  test::scratch_dir clean_dir("strategy-clean"), all_dir("strategy-all"), rest_dir("strategy-rest");
  const auto clean = run(c, clean_dir.path, "one_for_one", {});
  CHECK(restarted(clean).empty());

  const auto all = run(c, all_dir.path, "one_for_all", {{1, 7}}); // trainer 1 throws at clock 7
  CHECK(restarted(all) == std::set<std::string>{"trainer-0", "trainer-1", "trainer-2"});
  REQUIRE_FALSE(all.supervisor.empty());
  CHECK(all.supervisor.front()["event"] == "failure");
  CHECK(all.supervisor.front()["also_restarting"] == nlohmann::json::array({"trainer-0", "trainer-2"}));
  CHECK(all.params == clean.params);

  const auto rest = run(c, rest_dir.path, "rest_for_one", {{1, 7}});
  CHECK(restarted(rest) == std::set<std::string>{"trainer-1", "trainer-2"}); // trainer-0 started before it
  CHECK(rest.params == clean.params);
}

TEST_CASE("a failed loader is restarted in place and bsp ends bit-identical", "[actors][supervisor][faults][loader]") {
  test::cluster_case c;
  c.trainers = 2;
  c.epochs = 2;
  // With job.augment the new loader must redraw the same crops and flips for the clocks it re-sends.
  c.augment = GENERATE(std::string("{}"), std::string("{random_crop: {padding: 2}, horizontal_flip: true}"));
  CAPTURE(c.augment);
  test::scratch_dir clean_dir("loader-clean"), failed_dir("loader-failed");
  const auto clean = run(c, clean_dir.path, "one_for_one", {});

  const auto topo = config::parse_topology(test::topology_yaml(c, failed_dir.path), "test.yaml");
  actors::run_options o;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  o.fail_loader_after = 12; // the loader fails at its 13th batch request
  REQUIRE(actors::run_nodes(topo, o) == 0);
  INFO(console.str());
  std::vector<std::string> events;
  for (const auto& rec : test::read_records(failed_dir.path / "metrics" / "main.jsonl"))
    if (rec.value("actor", "") == "supervisor") {
      CHECK(rec["target"] == "loader");
      events.push_back(rec["event"].get<std::string>());
    }
  CHECK(events == std::vector<std::string>{"failure", "restart"});
  // The trainers ask the new loader again from the clocks they need: nothing skipped, nothing repeated.
  CHECK(train::load_model((failed_dir.path / "checkpoints" / "model_final.trpm").string()).params == clean.params);
  if (c.augment != "{}") { // the loader did augment: the trained parameters are not those of plain images
    test::scratch_dir plain_dir("loader-plain");
    auto plain = c;
    plain.augment = "{}";
    CHECK(run(plain, plain_dir.path, "one_for_one", {}).params != clean.params);
  }
}

TEST_CASE("a failed aggregator is restarted in place from its newest checkpoint and bsp ends bit-identical",
          "[actors][supervisor][faults]") {
  test::cluster_case c;
  c.trainers = 2;
  c.epochs = 2;
  test::scratch_dir clean_dir("aggregator-clean"), failed_dir("aggregator-failed");
  const auto clean = run(c, clean_dir.path, "one_for_one", {});

  auto yaml = test::topology_yaml(c, failed_dir.path);
  const std::string ckpt = "checkpoint:\n";
  yaml.insert(yaml.find(ckpt) + ckpt.size(), "  every_steps: 4\n");
  const auto topo = config::parse_topology(yaml, "test.yaml");
  REQUIRE(topo.checkpoint.every_steps == 4);
  actors::run_options o;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  o.fail_aggregator_at = 10; // fails after applying version 10: versions 9 and 10 are redone from checkpoint 8
  REQUIRE(actors::run_nodes(topo, o) == 0);
  INFO(console.str());
  std::vector<std::string> events;
  bool resumed = false;
  for (const auto& rec : test::read_records(failed_dir.path / "metrics" / "main.jsonl")) {
    if (rec.value("actor", "") == "supervisor") {
      CHECK(rec["target"] == "aggregator");
      events.push_back(rec["event"].get<std::string>());
    }
    resumed = resumed || rec.value("event", "") == "resume";
  }
  CHECK(events == std::vector<std::string>{"failure", "restart"});
  CHECK(resumed);
  CHECK(train::load_model((failed_dir.path / "checkpoints" / "model_final.trpm").string()).params == clean.params);
}
