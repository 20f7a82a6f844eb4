// Sharded aggregators (ps/shard_plan.hpp) in whole clusters inside the test process: K shards
// must change nothing a user can see but the speed.

#include <algorithm>

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
