#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "bandit/regret_curve.hpp"
#include "bandit/simulation.hpp"
#include "bandit/sweep.hpp"
#include "bandit_test_util.hpp"
#include "config/bandit_spec.hpp"

using namespace troupe::bandit;
using troupe::config::bandit_algorithm;

namespace {

/// A small sweep: the authors' arms at T = 20000.
troupe::config::bandit_sweep_spec small_sweep() {
  auto s = troupe::config::parse_bandit_sweep(troupe::config::default_sweep_yaml(), "defaults",
                                              {{{"bandit.T", "20000"}, "test"}, {{"bandit.kappa", "20"}, "test"}});
  s.seeds = 3;
  s.points = 40;
  return s;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::stringstream in(line);
  for (std::string field; std::getline(in, field, sep);)
    out.push_back(field);
  return out;
}

} // namespace

TEST_CASE("sweep_curves: Fed2-UCB and Fed1-UCB each with and without communication cost, and UCB1", "[bandit][sweep]") {
  auto s = small_sweep();
  SECTION("C = 1") {
    const auto curves = sweep_curves(s);
    REQUIRE(curves.size() == 5);
    const std::vector<std::string> ids = {"fed2_ucb", "fed2_ucb_c0", "fed1_ucb", "fed1_ucb_c0", "ucb1"};
    for (std::size_t i = 0; i < ids.size(); ++i)
      CHECK(curves[i].id == ids[i]);
    CHECK(curves[0].params.comm_cost == 1);
    CHECK(curves[1].params.comm_cost == 0);
    auto same = curves[1].params;
    same.comm_cost = 1;
    CHECK(troupe::config::to_string(same.algorithm) == "fed2_ucb");
    CHECK(same.c1 == curves[0].params.c1);
    CHECK(same.kappa == curves[0].params.kappa);
    CHECK(curves[3].params.algorithm == bandit_algorithm::fed1_ucb);
    CHECK(curves[3].params.comm_cost == 0);
    CHECK(curves[4].params.algorithm == bandit_algorithm::ucb1);
  }
  SECTION("C = 0 already: no second curve; no UCB1 when turned off") {
    s.fed2.comm_cost = s.fed1.comm_cost = 0;
    s.run_ucb1 = false;
    const auto curves = sweep_curves(s);
    REQUIRE(curves.size() == 2);
    CHECK(curves[0].id == "fed2_ucb");
    CHECK(curves[1].id == "fed1_ucb");
  }
}

TEST_CASE("run_curve: R(t) over the seeds is the mean and standard error of the single runs", "[bandit][sweep]") {
  const auto s = small_sweep();
  const auto curve = sweep_curves(s)[0];
  const auto times = sample_times(s.fed2.horizon, s.points);
  const curve_stats c = run_curve(curve, s.seeds, times);
  REQUIRE(c.t == times);
  std::vector<double> finals;
  for (std::uint64_t i = 0; i < s.seeds; ++i) {
    auto p = curve.params;
    p.seed += i;
    finals.push_back(simulate(p).regret());
  }
  const double mean = (finals[0] + finals[1] + finals[2]) / 3;
  double ss = 0;
  for (double x : finals)
    ss += (x - mean) * (x - mean);
  CHECK(c.final_regret().count() == 3);
  CHECK(c.final_regret().mean() == Approx(mean));
  CHECK(c.final_regret().standard_error() == Approx(std::sqrt(ss / 2 / 3)));
  CHECK(c.final_regret().standard_error() > 0); // the seeds differ
  CHECK(c.found_best <= 3);
}

TEST_CASE("write_csv: the header, one row per curve and time, finite numbers", "[bandit][sweep]") {
  const auto s = small_sweep();
  const auto times = sample_times(s.fed2.horizon, s.points);
  std::vector<curve_stats> stats;
  for (const auto& c : sweep_curves(s))
    stats.push_back(run_curve(c, s.seeds, times));
  std::ostringstream out;
  write_csv(out, stats);
  std::istringstream in(out.str());
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(line == "curve,algorithm,C,T,seeds,t,regret_mean,regret_se,communication_cost_mean,communication_cost_se");
  const auto columns = split(line, ',');
  std::size_t rows = 0;
  std::vector<std::string> last;
  while (std::getline(in, line)) {
    const auto f = split(line, ',');
    REQUIRE(f.size() == columns.size());
    for (std::size_t i = 2; i < f.size(); ++i) {
      INFO(line);
      const double v = std::stod(f[i]);
      CHECK(std::isfinite(v));
      CHECK(v >= 0);
    }
    const auto& c = stats[rows / times.size()];
    const std::size_t j = rows % times.size();
    CHECK(f[0] == c.curve.id);
    CHECK(std::stoull(f[5]) == times[j]);
    CHECK(std::stod(f[6]) == c.regret[j].mean()); // shortest round-trip form: exactly the computed value
    CHECK(std::stod(f[7]) == c.regret[j].standard_error());
    ++rows;
    last = f;
  }
  CHECK(rows == stats.size() * times.size());
  CHECK(last[0] == "ucb1");
  CHECK(last[5] == "20000");
  CHECK(last[3] == "20000");
}
