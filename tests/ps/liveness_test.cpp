#include "ps/liveness.hpp"

#include <catch2/catch.hpp>

using troupe::ps::liveness;

TEST_CASE("liveness declares a node lost once after the timeout and notices when it is back", "[ps][liveness]") {
  using namespace std::chrono_literals;
  liveness l(2.5s, "agg");
  const auto t0 = liveness::clock::time_point{} + 100s;
  l.heard("agg", t0);
  l.heard("t0", t0);
  l.heard("t1", t0 + 2s);
  REQUIRE(l.check(t0 + 2s).empty());
  const auto lost = l.check(t0 + 3s);
  REQUIRE(lost.size() == 1);
  REQUIRE(lost[0].node == "t0");
  REQUIRE(lost[0].silent_s == Approx(3.0));
  REQUIRE(l.lost("t0"));
  REQUIRE(l.check(t0 + 4s).empty());      // declared once
  REQUIRE(l.check(t0 + 10s).size() == 1); // t1 now; the node itself never
  REQUIRE(l.heard("t0", t0 + 11s));       // back
  REQUIRE_FALSE(l.heard("t0", t0 + 12s));
  REQUIRE_FALSE(l.lost("t0"));
}

TEST_CASE("longest_silent names the peer silent the longest, counting from the start of the wait at the earliest",
          "[ps][liveness]") {
  using namespace std::chrono_literals;
  liveness l(2.5s, "t0");
  const auto t0 = liveness::clock::time_point{} + 100s;
  const std::vector<std::string> shards{"agg", "agg1", "agg2"};
  l.heard("agg", t0 + 30s); // shard 0 keeps talking
  l.heard("agg1", t0 + 5s); // shard 1 went quiet early
  // agg2 never spoke: its silence counts from the start of the wait
  REQUIRE_FALSE(l.longest_silent(shards, t0, t0 + 20s, 20s)); // nobody past 20 s yet
  const auto one = l.longest_silent(shards, t0, t0 + 31s, 20s);
  REQUIRE(one);
  REQUIRE(one->node == "agg2"); // 31 s beats agg1's 26 s
  REQUIRE(one->silent_s == Approx(31.0));
  l.heard("agg2", t0 + 31s);
  const auto two = l.longest_silent(shards, t0, t0 + 31s, 20s);
  REQUIRE(two);
  REQUIRE(two->node == "agg1"); // one live shard does not hide a silent one
  REQUIRE(two->silent_s == Approx(26.0));
  // A wait that began after the last word counts from its own start.
  REQUIRE_FALSE(l.longest_silent(shards, t0 + 20s, t0 + 31s, 20s));
}
