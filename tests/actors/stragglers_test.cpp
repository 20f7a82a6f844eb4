// Stragglers in whole in-process clusters: backup trainers (job.backup_trainers) close bsp rounds
// without a slowed trainer, and a trainer that is only slow is never declared lost.

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "actors/node.hpp"
#include "observe/schema.hpp"

#include "cluster_run.hpp"

using namespace troupe;
using test::cluster_run;
using test::final_test_acc;
using test::run_cluster;

namespace {

const nlohmann::json* finish_record(const cluster_run& r) {
  for (const auto& rec : r.aggregator_records)
    if (rec.value("event", "") == "finish")
      return &rec;
  return nullptr;
}

/// 3 trainers x 16, 30 clocks, backup_trainers: 1 (trainer 2 is the one the tests slow down).
test::cluster_case backup_case() {
  test::cluster_case c;
  c.trainers = 3;
  c.batch = 16;
  c.max_train = 1440; // 30 clocks of 3 x 16
  c.backup_trainers = "1";
  return c;
}

} // namespace

TEST_CASE("bsp with backup_trainers: 1 and a slowed trainer ends, drops its late gradients and trains",
          "[actors][cluster][bsp][backup]") {
  auto c = backup_case();
  test::scratch_dir dir("bsp-backup");
  auto yaml = test::topology_yaml(c, dir.path);
  const std::string quiet = "  console: false\n";
  REQUIRE(yaml.find(quiet) != std::string::npos);
  yaml.replace(yaml.find(quiet), quiet.size(), "  console: true\n"); // the summary line is checked below
  const auto r = test::run_cluster_yaml(yaml, c, dir.path, {{2, 4.0}});
  INFO(r.console);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.params.size() == 225034);
  const auto* fin = finish_record(r);
  REQUIRE(fin != nullptr);
  INFO(fin->dump());
  REQUIRE(observe::validate_record(*fin).empty());
  // Every round was applied exactly once, late gradients or not: the clocks stayed aligned.
  const std::size_t clocks = c.max_train / c.trainers / c.batch;
  REQUIRE((*fin)["version"].get<std::size_t>() == clocks);
  // The 4x slower trainer is the late one of (nearly) every round.
  const auto late = (*fin)["late_dropped"].get<std::size_t>();
  REQUIRE(late > 0);
  const auto by_trainer = (*fin)["late_by_trainer"].get<std::vector<std::size_t>>();
  REQUIRE(by_trainer.size() == 3);
  REQUIRE(by_trainer[0] + by_trainer[1] + by_trainer[2] == late);
  REQUIRE(by_trainer[2] >= by_trainer[0]);
  REQUIRE(by_trainer[2] >= by_trainer[1]);
  REQUIRE(r.console.find(fmt::format("{} late gradients dropped (backup_trainers: 1)", late)) != std::string::npos);
  // The progress records carry the running count, and the schema knows it; no dropped gradient
  // was taken for a refusal.
  std::size_t with_count = 0;
  for (const auto& rec : r.aggregator_records) {
    REQUIRE(rec.value("event", "") != "gradient_refused");
    if (rec.contains("late_dropped") && !rec.contains("event")) {
      REQUIRE(observe::validate_record(rec).empty());
      REQUIRE(rec["refused"].get<std::size_t>() == 0);
      ++with_count;
    }
  }
  REQUIRE(with_count > 0);
  // Two thirds of each clock's samples still train it well past chance (0.10), as plain bsp does.
  REQUIRE(final_test_acc(r) > 0.3);
}

TEST_CASE("bsp with backup_trainers: 1 and balance by speed hands the late trainer's shares to the others",
          "[actors][cluster][bsp][backup][balance]") {
  auto c = backup_case();
  c.balance = "speed";
  test::scratch_dir dir("bsp-backup-balance");
  const auto r = run_cluster(c, dir.path, {{2, 4.0}});
  INFO(r.console);
  REQUIRE(r.exit_code == 0);
  const auto* fin = finish_record(r);
  REQUIRE(fin != nullptr);
  REQUIRE((*fin)["version"].get<std::size_t>() == c.max_train / c.trainers / c.batch);
  REQUIRE((*fin)["late_dropped"].get<std::size_t>() > 0);
  // The loader's last record: the samples of the rounds closed without their trainer, and how
  // many of them the other trainers' batches took (all but what the last rounds left over).
  std::optional<nlohmann::json> loader;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "main.jsonl"))
    if (rec.value("actor", "") == "loader" && rec.contains("late_samples_owed"))
      loader = rec;
  REQUIRE(loader);
  INFO(loader->dump());
  REQUIRE(observe::validate_record(*loader).empty());
  const auto owed = (*loader)["late_samples_owed"].get<std::size_t>();
  const auto served = (*loader)["late_samples_served"].get<std::size_t>();
  REQUIRE(owed > 0);
  REQUIRE(served <= owed);
  REQUIRE(2 * served >= owed);
  REQUIRE(final_test_acc(r) > 0.3);
}

TEST_CASE("bsp with backup_trainers: 0 ends bit-identical to a run without the key", "[actors][cluster][bsp][backup]") {
  test::cluster_case c;
  c.trainers = 2;
  c.max_train = 320; // 10 clocks of 2 x 16
  test::scratch_dir without_dir("bsp-no-backup");
  const auto without = run_cluster(c, without_dir.path);
  c.backup_trainers = "0";
  test::scratch_dir zero_dir("bsp-backup-0");
  const auto zero = run_cluster(c, zero_dir.path, {{1, 2.0}}); // a slowed trainer changes nothing at b = 0
  REQUIRE(without.exit_code == 0);
  REQUIRE(zero.exit_code == 0);
  REQUIRE(without.params.size() == 225034);
  REQUIRE(zero.params == without.params);
  const auto* fin = finish_record(zero);
  REQUIRE(fin != nullptr);
  REQUIRE_FALSE(fin->contains("late_dropped"));
}

TEST_CASE("a trainer slower per step than the failure timeout, whose heartbeats arrive, is never declared lost",
          "[actors][cluster][straggler][liveness]") {
  // Separate nodes over tcp, so the aggregator tracks t1's liveness by what arrives from it. Each
  // of t1's steps takes longer than cluster.failure_timeout_s; its node's heartbeats go on.
  test::cluster_case c;
  c.transport = "tcp";
  c.trainers = 2;
  c.batch = 16;
  c.max_train = 96; // 3 clocks of 2 x 16
  c.max_test = 100;
  const double failure_timeout_s = 0.5;
  test::scratch_dir dir("slow-not-lost");
  auto yaml = test::topology_yaml(c, dir.path);
  const std::string at = "  connect_timeout_s: 20\n";
  REQUIRE(yaml.find(at) != std::string::npos);
  yaml.replace(yaml.find(at), at.size(),
               at + fmt::format("  heartbeat_s: 0.1\n  failure_timeout_s: {}\n", failure_timeout_s));
  // t1 150x slower: a 16-image step of 5-10 ms (AVX-512 or AVX2 kernels) takes 0.75-1.5 s.
  const auto r = test::run_cluster_yaml(yaml, c, dir.path, {{1, 150.0}});
  INFO(r.console);
  REQUIRE(r.exit_code == 0);
  // The premise: t1's steps did outlast the failure timeout (compute_s includes the hook's sleep).
  double longest_step = 0;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "t1.jsonl"))
    if (rec.value("role", "") == "trainer" && !rec.contains("event") && rec.contains("compute_s"))
      longest_step = std::max(longest_step, rec["compute_s"].get<double>());
  INFO("t1's longest step " << longest_step << " s");
  REQUIRE(longest_step > failure_timeout_s);
  for (const auto& rec : r.aggregator_records) {
    INFO(rec.dump());
    REQUIRE(rec.value("event", "") != "peer_lost");
  }
  REQUIRE(finish_record(r) != nullptr);
  REQUIRE((*finish_record(r))["version"].get<std::size_t>() == 3);
}
