#include <catch2/catch.hpp>

#include "bandit/regret.hpp"
#include "bandit/simulation.hpp"
#include "bandit_test_util.hpp"

using namespace troupe::bandit;

TEST_CASE("the ledger charges M(t)·Δ per step and C·M(p) per communicating phase", "[bandit][regret]") {
  auto p = test::fed2({0.25, 0.5, 1.0}, 1000, 10); // Δ = 0.75, 0.5, 0
  p.comm_cost = 2;
  regret_ledger ledger(p);
  phase_plan plan;
  plan.active = {0, 1, 2};
  plan.clients = 4;
  plan.steps = 30;
  plan.uploads = true;
  ledger.add_phase(plan);
  CHECK(ledger.pull_regret() == Approx(4 * 10 * 1.25));
  CHECK(ledger.communications() == 4);
  CHECK(ledger.communication_cost() == 8);
  SECTION("a cut phase: 7 steps round-robin = arms 0, 1, 2, 0, 1, 2, 0") {
    plan.steps = 7;
    plan.uploads = false;
    ledger.add_phase(plan);
    CHECK(ledger.pull_regret() == Approx(50 + 4 * (3 * 0.75 + 2 * 0.5)));
    CHECK(ledger.communications() == 4);
  }
  SECTION("exploiting one arm") {
    ledger.add_steps(1, 6, 100);
    CHECK(ledger.pull_regret() == Approx(50 + 6 * 100 * 0.5));
    ledger.add_steps(2, 6, 100);
    CHECK(ledger.total() == Approx(350 + 8));
  }
}

TEST_CASE("a tiny Fed1 run, checked by hand", "[bandit][regret]") {
  // K = 2, μ = [0, 1], M = 2 (skewed: client 0 sees [0, 1.8], client 1 sees [0, 0.2]), σ = 0.01,
  // κ = 1: f = ⌈ln 100⌉ = 5. Phase 1: 10 steps, 2 clients × 5 pulls of arm 0 → regret 10, cost
  // 2·C = 3; B_1,1 = sqrt(6·1e-4·ln 100/10) ≈ 0.017 eliminates arm 0; 90 steps of arm 1 cost 0.
  auto p = test::fed1({0.0, 1.0}, 100, 2, 1.0);
  p.sigma = 0.01;
  p.comm_cost = 1.5;
  const run_result r = simulate(p);
  CHECK(r.phases == 1);
  CHECK(r.clients == 2);
  CHECK(r.communications == 2);
  CHECK(r.pull_regret == Approx(10));
  CHECK(r.communication_cost == Approx(3));
  CHECK(r.regret() == Approx(13));
  CHECK(r.chosen == std::optional<std::size_t>(1));
  CHECK(r.decided_at == 10);
  REQUIRE(r.trace.size() == 1);
  CHECK(r.trace[0].eliminated == std::vector<std::size_t>{0});
  CHECK(r.trace[0].t == 10);

  SECTION("T = 7: f = ⌈ln 7⌉ = 2, phase 1 takes 4 steps (regret 2·2·1), costs 3, then arm 1 to T") {
    p.horizon = 7;
    const run_result s = simulate(p);
    CHECK(s.pull_regret == Approx(4));
    CHECK(s.regret() == Approx(7));
    CHECK(s.decided_at == 4);
  }
  SECTION("T = 3 cuts phase 1 (4 steps needed): arms 0, 1, 0 by 2 clients, no communication") {
    p.horizon = 3;
    const run_result s = simulate(p);
    CHECK(s.phases == 1);
    CHECK(s.pull_regret == Approx(4));
    CHECK(s.communications == 0);
    CHECK(s.communication_cost == 0);
    CHECK_FALSE(s.chosen.has_value());
    CHECK(s.active == std::vector<std::size_t>{0, 1});
    REQUIRE(s.trace.size() == 1);
    CHECK_FALSE(s.trace[0].communicated);
  }
}

TEST_CASE("a tiny UCB1 run without noise, checked by hand", "[bandit][regret]") {
  // σ = 0: arm 0 once, arm 1 once, then arm 1 forever (its index 1 beats 0): regret Δ_0 = 1.
  auto p = test::fed2({0.0, 1.0}, 10, 1);
  p.algorithm = troupe::config::bandit_algorithm::ucb1;
  p.sigma = 0;
  const run_result r = simulate(p);
  CHECK(r.pull_regret == 1);
  CHECK(r.communication_cost == 0);
  CHECK(r.chosen == std::optional<std::size_t>(1));
}
