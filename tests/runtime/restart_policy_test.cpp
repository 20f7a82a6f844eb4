#include "runtime/restart_policy.hpp"

#include <catch2/catch.hpp>

using namespace troupe;
using namespace std::chrono_literals;

TEST_CASE("restart backoff doubles with jitter and the intensity limit escalates", "[runtime][supervisor]") {
  config::supervisor_spec s;
  s.max_restarts = 3;
  s.period_s = 10;
  s.backoff_s = 0.5;
  s.backoff_max_s = 1.5;
  runtime::restart_policy p(s, 1);
  const auto t0 = runtime::restart_policy::clock::now();
  const auto d1 = p.on_failure(t0), d2 = p.on_failure(t0 + 1s), d3 = p.on_failure(t0 + 2s);
  REQUIRE(d1);
  REQUIRE(*d1 >= 0.5);
  REQUIRE(*d1 < 0.625);
  REQUIRE(*d2 >= 1.0);
  REQUIRE(*d2 < 1.25);
  REQUIRE(*d3 >= 1.5); // 2.0 capped at backoff_max
  REQUIRE(*d3 < 1.875);
  REQUIRE_FALSE(p.on_failure(t0 + 3s)); // the 4th failure within 10 s: escalate

  SECTION("failures older than the period no longer count") {
    runtime::restart_policy q(s, 2);
    for (int i = 0; i < 3; ++i)
      REQUIRE(q.on_failure(t0 + std::chrono::seconds(i)));
    const auto later = q.on_failure(t0 + 30s);
    REQUIRE(later);
    REQUIRE(*later < 0.625); // back to the first delay
    REQUIRE(q.failures_in_window() == 1);
  }
}
