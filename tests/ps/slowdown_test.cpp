#include "ps/slowdown.hpp"

#include <catch2/catch.hpp>

#include "common/error.hpp"

using namespace troupe;
using namespace troupe::ps;

TEST_CASE("transient slow steps: about the fraction asked, the same in every run, different per trainer",
          "[ps][slowdown]") {
  const transient_slowdown t{0.1, 5.0, 7};
  std::size_t hits0 = 0, hits1 = 0, both = 0;
  const std::uint64_t clocks = 20000;
  for (std::uint64_t c = 0; c < clocks; ++c) {
    const bool h0 = transient_hit(t, 0, c), h1 = transient_hit(t, 1, c);
    REQUIRE(h0 == transient_hit(t, 0, c)); // a pure function of (seed, rank, clock)
    hits0 += h0;
    hits1 += h1;
    both += h0 && h1;
  }
  // Binomial(20000, 0.1): mean 2000, standard deviation 42; a wrong hash or a wrong cut is far out.
  CHECK(hits0 > 1800);
  CHECK(hits0 < 2200);
  CHECK(hits1 > 1800);
  CHECK(hits1 < 2200);
  CHECK(both < 400); // independent per trainer (about 200), not the same steps for everyone
  // Another seed draws other steps.
  const transient_slowdown other{0.1, 5.0, 8};
  std::size_t same = 0;
  for (std::uint64_t c = 0; c < clocks; ++c)
    same += transient_hit(t, 0, c) && transient_hit(other, 0, c);
  CHECK(same < 400);
}

TEST_CASE("slow-downs multiply: persistent x transient; off means 1", "[ps][slowdown]") {
  CHECK(slowdown{}.factor_at(0, 0) == 1.0);
  const transient_slowdown always{1.0, 5.0, 1};
  CHECK(slowdown{3.0, always}.factor_at(2, 17) == 15.0);
  CHECK(slowdown{3.0, {}}.factor_at(2, 17) == 3.0);
  std::size_t slow = 0;
  for (std::uint64_t c = 0; c < 1000; ++c) {
    const double f = slowdown{1.0, {0.2, 4.0, 3}}.factor_at(1, c);
    REQUIRE((f == 1.0 || f == 4.0));
    slow += f == 4.0;
  }
  CHECK(slow > 120);
  CHECK(slow < 280);
}

TEST_CASE("the --transient-slow FRACTION=FACTOR value is parsed, and a bad one is refused naming the flag",
          "[ps][slowdown]") {
  const auto t = parse_transient_slowdown("0.1=5");
  CHECK(t.fraction == 0.1);
  CHECK(t.factor == 5.0);
  CHECK(parse_transient_slowdown("1=1.5").fraction == 1.0);
  for (const char* bad : {"0.1", "=5", "0.1=", "0=5", "1.5=5", "0.1=0.5", "x=5", "0.1=5x", "-0.1=5", "0.1=inf"}) {
    CAPTURE(bad);
    REQUIRE_THROWS_WITH(parse_transient_slowdown(bad),
                        Catch::StartsWith(std::string("--transient-slow ") + bad + ": expected FRACTION=FACTOR"));
  }
}
