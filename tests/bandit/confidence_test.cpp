#include <catch2/catch.hpp>

#include <cmath>

#include "bandit/confidence.hpp"
#include "common/error.hpp"

using namespace troupe::bandit;

TEST_CASE("eta weighs each admission cohort by its sample count", "[bandit][confidence]") {
  SECTION("one cohort: η = g/(M²·F) = 1/(M·F)") {
    CHECK(eta({2}, {0, 100}) == Approx(0.005));
    CHECK(eta({5}, {0, 139}) == Approx(1.0 / (5 * 139)));
  }
  SECTION("two cohorts: (2/200 + 4/100) / 6²") {
    CHECK(eta({2, 4}, {0, 100, 200}) == Approx(0.05 / 36));
  }
  SECTION("a phase without admissions adds nothing") {
    CHECK(eta({2, 0}, {0, 100, 200}) == Approx(2.0 / 200 / 4));
  }
  SECTION("inconsistent inputs are refused") {
    CHECK_THROWS_AS(eta({2, 4}, {0, 100}), troupe::error);
    CHECK_THROWS_AS(eta({0}, {0, 100}), troupe::error);
  }
}

TEST_CASE("B_p,2 adds the arm-sampling and the client-sampling terms", "[bandit][confidence]") {
  const double ln_T = std::log(1e4);
  // sqrt(6·0.25·0.005·ln 1e4) + sqrt(6·0.0004·ln 1e4 / 2), computed independently.
  CHECK(fed2_bound(0.005, 2, 0.5, 0.02, ln_T, 6, 6) == Approx(0.3679565238829853).epsilon(1e-12));
  SECTION("σ_c = 0 leaves the arm-sampling term, which is B_p,1 for a single cohort") {
    CHECK(fed2_bound(eta({5}, {0, 139}), 5, 0.5, 0.0, ln_T, 6, 6) == Approx(fed1_bound(5, 139, 0.5, ln_T, 6)));
  }
  SECTION("the constants scale their own term only") {
    const double arm = std::sqrt(1.5 * 0.005 * ln_T), client = std::sqrt(0.0024 * ln_T / 2);
    CHECK(fed2_bound(0.005, 2, 0.5, 0.02, ln_T, 1, 6) == Approx(arm / std::sqrt(6.0) + client));
    CHECK(fed2_bound(0.005, 2, 0.5, 0.02, ln_T, 6, 1) == Approx(arm + client / std::sqrt(6.0)));
  }
}

TEST_CASE("B_p,1 = sqrt(6σ² ln T / (M·F(p)))", "[bandit][confidence]") {
  // M = 5, F = ⌈10·ln 1e6⌉ = 139, σ = 0.5.
  CHECK(fed1_bound(5, 139, 0.5, std::log(1e6), 6) == Approx(0.17267787549727912).epsilon(1e-12));
  CHECK(fed1_bound(5, 139, 0.5, std::log(1e6), 4) == Approx(0.17267787549727912 * std::sqrt(4.0 / 6)));
  CHECK_THROWS_AS(fed1_bound(0, 139, 0.5, 1, 6), troupe::error);
}

TEST_CASE("elimination drops arms whose upper bound is below the best lower bound", "[bandit][confidence]") {
  // Dyadic values: every sum below is exact in binary.
  const std::vector<std::size_t> active = {0, 1, 2, 3};
  const std::vector<double> means = {0.125, 0.5, 0.375, 0.875};
  SECTION("B = 1/8: best − B = 0.75; every other arm's μ̄ + B is below") {
    CHECK(eliminated(active, means, 0.125) == std::vector<std::size_t>{0, 1, 2});
  }
  SECTION("B = 3/16: arm 1 ties (0.6875 = 0.6875) and stays: the rule is strict") {
    CHECK(eliminated(active, means, 0.1875) == std::vector<std::size_t>{0, 2});
  }
  SECTION("a wide bound keeps everyone; the best arm is never eliminated") {
    CHECK(eliminated(active, means, 1.0).empty());
    CHECK(eliminated({7}, {0.3}, 0.0).empty());
  }
  SECTION("arm indices come from the active set") {
    CHECK(eliminated({2, 5, 9}, {0.9, 0.1, 0.5}, 0.125) == std::vector<std::size_t>{5, 9});
  }
}
