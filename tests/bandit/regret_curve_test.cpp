#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "bandit/regret.hpp"
#include "bandit/regret_curve.hpp"
#include "bandit/simulation.hpp"
#include "bandit_test_util.hpp"

using namespace troupe::bandit;
using troupe::config::bandit_algorithm;

TEST_CASE("sample_times: bounded, ascending, from 1 to T, every power of 10 among them", "[bandit][curve]") {
  SECTION("T = 10^6, 200 points") {
    const auto t = sample_times(1000000, 200);
    CHECK(t.size() <= 200);
    CHECK(t.size() >= 150);
    CHECK(t.front() == 1);
    CHECK(t.back() == 1000000);
    CHECK(std::adjacent_find(t.begin(), t.end(), [](auto a, auto b) { return a >= b; }) == t.end());
    for (std::uint64_t p : {10, 100, 1000, 10000, 100000})
      CHECK(std::binary_search(t.begin(), t.end(), p));
    // The linear half: the last tenth of the run holds about a tenth of those samples.
    CHECK(std::count_if(t.begin(), t.end(), [](auto x) { return x > 900000; }) >= 9);
  }
  SECTION("fewer steps than points: every step") {
    CHECK(sample_times(5, 200) == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  }
  SECTION("two points") {
    const auto t = sample_times(31623, 2);
    CHECK(t.size() <= 2);
    CHECK(t.back() == 31623);
  }
}

TEST_CASE("the ledger's R(t) inside a phase and after it, checked by hand", "[bandit][curve][regret]") {
  auto p = test::fed2({0.25, 0.5, 1.0}, 1000, 10); // Δ = 0.75, 0.5, 0
  p.comm_cost = 2;
  regret_ledger ledger(p, {1, 2, 3, 7, 29, 30, 31, 130});
  phase_plan plan;
  plan.active = {0, 1, 2};
  plan.clients = 4;
  plan.steps = 30;
  plan.uploads = true;
  ledger.add_phase(plan); // 4 clients, round-robin 0, 1, 2, ...; C·M = 8 at its last step
  ledger.add_steps(1, 6, 100);
  const regret_curve& c = ledger.curve();
  REQUIRE(c.t == std::vector<std::uint64_t>{1, 2, 3, 7, 29, 30, 31, 130});
  CHECK(c.regret[0] == Approx(4 * 0.75));
  CHECK(c.regret[1] == Approx(4 * 1.25));
  CHECK(c.regret[2] == Approx(4 * 1.25));
  CHECK(c.regret[3] == Approx(4 * (2 * 1.25 + 0.75)));
  CHECK(c.regret[4] == Approx(4 * (9 * 1.25 + 0.75 + 0.5)));
  CHECK(c.communication_cost[4] == 0); // the exchange comes at the phase's end
  CHECK(c.regret[5] == Approx(50 + 8));
  CHECK(c.communication_cost[5] == 8);
  CHECK(c.regret[6] == Approx(58 + 6 * 0.5));
  CHECK(c.regret[7] == Approx(58 + 100 * 6 * 0.5));
  CHECK(c.regret.back() == ledger.total());
}

TEST_CASE("a run's R(t) rises, passes through every phase's recorded regret and ends at R(T)",
          "[bandit][curve][simulation]") {
  const auto algo = GENERATE(bandit_algorithm::fed2_ucb, bandit_algorithm::fed1_ucb, bandit_algorithm::ucb1);
  auto p = algo == bandit_algorithm::fed1_ucb ? test::fed1(test::paper_means, 50000, 5, 2, 4)
                                              : test::fed2(test::paper_means, 50000, 20, 4);
  p.algorithm = algo;
  const run_result plain = simulate(p);
  std::vector<std::uint64_t> times = sample_times(p.horizon, 100);
  for (const auto& rec : plain.trace) // the phase ends, so the curve can be checked against the trace
    times.push_back(rec.t);
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  const run_result r = simulate(p, times);
  INFO(troupe::config::to_string(algo));
  CHECK(r.regret() == plain.regret()); // sampling changes nothing
  CHECK(r.trace == plain.trace);
  REQUIRE(r.curve.t == times);
  CHECK(r.curve.regret.back() == r.regret());
  CHECK(r.curve.communication_cost.back() == r.communication_cost);
  for (std::size_t j = 1; j < times.size(); ++j) {
    CHECK(r.curve.regret[j] >= r.curve.regret[j - 1]);
    CHECK(r.curve.communication_cost[j] >= r.curve.communication_cost[j - 1]);
  }
  for (const auto& rec : r.trace) {
    const auto at = std::lower_bound(times.begin(), times.end(), rec.t) - times.begin();
    CHECK(r.curve.regret[static_cast<std::size_t>(at)] == rec.cumulative_regret);
    CHECK(r.curve.communication_cost[static_cast<std::size_t>(at)] == rec.communication_cost);
  }
}

TEST_CASE("without communication cost (C = 0) the same seeds make the same decisions and less regret",
          "[bandit][curve][simulation]") {
  // C enters only R (FED_BANDIT.md: neither the schedule nor the bound reads it), so for one seed
  // R_{C=0}(t) = R_C(t) − C·exchanges(t) <= R_C(t), strictly once a phase has communicated.
  const auto algo = GENERATE(bandit_algorithm::fed2_ucb, bandit_algorithm::fed1_ucb);
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto p = algo == bandit_algorithm::fed1_ucb ? test::fed1(test::paper_means, 100000, 5, 2, seed)
                                                : test::fed2(test::paper_means, 100000, 50, seed);
    p.comm_cost = 1;
    const auto times = sample_times(p.horizon, 60);
    const run_result with_cost = simulate(p, times);
    p.comm_cost = 0;
    const run_result without = simulate(p, times);
    INFO(troupe::config::to_string(algo) << " seed " << seed);
    CHECK(without.chosen == with_cost.chosen);
    CHECK(without.decided_at == with_cost.decided_at);
    CHECK(without.pull_regret == with_cost.pull_regret);
    CHECK(without.communication_cost == 0);
    REQUIRE(without.curve.t == with_cost.curve.t);
    for (std::size_t j = 0; j < times.size(); ++j) {
      CHECK(without.curve.regret[j] <= with_cost.curve.regret[j]);
      CHECK(without.curve.regret[j] ==
            Approx(with_cost.curve.regret[j] - with_cost.curve.communication_cost[j]).epsilon(1e-12));
    }
    CHECK(with_cost.communications > 0);
    CHECK(without.curve.regret.back() < with_cost.curve.regret.back());
  }
}
