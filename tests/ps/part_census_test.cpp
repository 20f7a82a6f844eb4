#include "ps/part_census.hpp"

#include <catch2/catch.hpp>

#include "common/error.hpp"

using troupe::ps::part_census;

TEST_CASE("the part census resumes from the newest step every shard holds, once all have answered",
          "[ps][shards][census]") {
  part_census c(3, 1, {5, 10, 15});
  REQUIRE_FALSE(c.complete());
  REQUIRE(c.missing() == std::vector<std::size_t>{0, 2});
  REQUIRE_FALSE(c.newest_common()); // not before every shard answered
  c.heard(2, {15, 10, 5, 10});      // any order, duplicates harmless
  REQUIRE(c.missing() == std::vector<std::size_t>{0});
  c.heard(0, {5, 10}); // shard 0 crashed before it wrote 15
  REQUIRE(c.complete());
  REQUIRE(c.newest_common() == 10u);
  REQUIRE_FALSE(c.others_running());
  c.heard(0, {5, 10, 15}, true); // a later answer replaces the earlier one
  REQUIRE(c.newest_common() == 15u);
  REQUIRE(c.others_running());
}

TEST_CASE("the part census has no common step when one shard holds none, and refuses an unknown shard",
          "[ps][shards][census]") {
  part_census c(2, 0, {10, 20});
  c.heard(1, {});
  REQUIRE(c.complete());
  REQUIRE_FALSE(c.newest_common()); // start from the initial parameters
  part_census d(2, 1, {30});
  d.heard(0, {10, 20});
  REQUIRE_FALSE(d.newest_common()); // parts, but none at the same step
  REQUIRE_THROWS_WITH(d.heard(2, {10}), Catch::Contains("aggregator shard 2, but the job has 2 shards"));
}
