#include "ps/consistency_gate.hpp"

#include <catch2/catch.hpp>

using troupe::config::consistency;
using troupe::ps::consistency_gate;

TEST_CASE("the consistency gate: bsp waits for the slowest, ssp allows s ahead, asp never waits", "[ps][consistency]") {
  const consistency_gate bsp{consistency::bsp, 5}; // staleness means nothing in bsp
  REQUIRE(bsp.allows(3, 3));
  REQUIRE_FALSE(bsp.allows(4, 3));
  REQUIRE(bsp.synchronous());
  const consistency_gate ssp{consistency::ssp, 2};
  REQUIRE(ssp.allows(5, 3));
  REQUIRE_FALSE(ssp.allows(6, 3));
  REQUIRE_FALSE(ssp.synchronous());
  REQUIRE(consistency_gate{consistency::ssp, 0}.synchronous()); // ssp with s = 0 is bsp
  const consistency_gate asp{consistency::asp, 0};
  REQUIRE(asp.allows(1000, 0));
  REQUIRE_FALSE(asp.synchronous());
}
