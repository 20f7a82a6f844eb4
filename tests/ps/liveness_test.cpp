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
