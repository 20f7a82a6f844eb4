#include <catch2/catch.hpp>

#include <cmath>

#include "bandit/schedule.hpp"
#include "bandit/simulation.hpp"
#include "bandit_test_util.hpp"

using namespace troupe::bandit;
using troupe::config::bandit_algorithm;

TEST_CASE("with a clear gap the best arm is found in at least 19 of 20 seeds", "[bandit][simulation]") {
  const std::vector<double> means = {0.2, 0.3, 0.4, 0.5, 0.6}; // Δ_min = 0.1, best arm 4
  const auto algo = GENERATE(bandit_algorithm::fed2_ucb, bandit_algorithm::fed1_ucb, bandit_algorithm::ucb1);
  int found = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto p = algo == bandit_algorithm::fed1_ucb ? test::fed1(means, 100000, 5, 10, seed)
                                                : test::fed2(means, 100000, 20, seed);
    p.algorithm = algo;
    const run_result r = simulate(p);
    found += r.found_best(p) ? 1 : 0;
    if (algo != bandit_algorithm::ucb1)
      CHECK(r.decided_at > 0); // elimination ended well before T
  }
  INFO(troupe::config::to_string(algo));
  CHECK(found >= 19);
}

TEST_CASE("the communications and the time match the phase schedule exactly", "[bandit][simulation]") {
  const auto algo = GENERATE(bandit_algorithm::fed2_ucb, bandit_algorithm::fed1_ucb);
  auto p = algo == bandit_algorithm::fed2_ucb ? test::fed2(test::paper_means, 100000, 50, 3)
                                              : test::fed1(test::paper_means, 100000, 5, 2, 3);
  p.comm_cost = 0.5;
  const run_result r = simulate(p);
  REQUIRE(!r.trace.empty());
  // Recompute M(p), t and the communications from g, f and |K_p| alone.
  std::uint64_t clients = 0, t = 0, comms = 0;
  std::size_t active = p.means.size();
  for (const phase_record& rec : r.trace) {
    clients += admissions(p, rec.phase, clients);
    const std::uint64_t steps = active * pulls_per_arm(p, rec.phase);
    t = std::min<std::uint64_t>(t + steps, p.horizon);
    CHECK(rec.clients == clients);
    CHECK(rec.t == t);
    CHECK(rec.communicated == (t < p.horizon));
    comms += rec.communicated ? clients : 0;
    CHECK(rec.communication_cost == 0.5 * static_cast<double>(comms));
    CHECK(active - rec.eliminated.size() == rec.active_arms);
    active = rec.active_arms;
  }
  CHECK(r.phases == r.trace.size());
  CHECK(r.communications == comms);
  CHECK(r.communication_cost == 0.5 * static_cast<double>(comms));
  if (algo == bandit_algorithm::fed2_ucb)
    CHECK(r.clients == (std::uint64_t{2} << r.phases) - 2); // Σ 2^q = 2^{p+1} − 2
  else
    CHECK(r.communications == 5 * (r.phases - (r.trace.back().communicated ? 0 : 1)));
}

TEST_CASE("a run is a function of its parameters", "[bandit][simulation]") {
  const auto algo = GENERATE(bandit_algorithm::fed2_ucb, bandit_algorithm::fed1_ucb, bandit_algorithm::ucb1);
  auto p = algo == bandit_algorithm::fed1_ucb ? test::fed1(test::paper_means, 20000, 5, 10, 7)
                                              : test::fed2(test::paper_means, 20000, 50, 7);
  p.algorithm = algo;
  const run_result a = simulate(p), b = simulate(p);
  CHECK(a == b);
  p.seed = 8;
  CHECK_FALSE(simulate(p) == a);
}

TEST_CASE("Fed2-UCB's regret grows like log T once elimination ends before T", "[bandit][simulation]") {
  // Averaged over seeds, R(T)/ln T stays within a factor 1.5 from T = 10^4.5 to 10^6.
  double per_log[2] = {0, 0};
  const double T[2] = {31623, 1000000};
  for (int i = 0; i < 2; ++i)
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      auto p = test::fed2(test::paper_means, static_cast<std::uint64_t>(T[i]), 100, seed);
      per_log[i] += simulate(p).regret() / std::log(T[i]) / 8;
    }
  CHECK(per_log[1] < 1.5 * per_log[0]);
  CHECK(per_log[1] > per_log[0] / 1.5);
}
