#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/bandit_spec.hpp"

using Catch::Contains;
using Catch::StartsWith;
using troupe::config::bandit_algorithm;
using troupe::config::bandit_sweep_spec;
using troupe::config::exact_kind;
using troupe::config::parse_bandit_sweep;
using troupe::config::pulls_kind;
using troupe::config::sweep_preset;
using troupe::config::sweep_setting;

namespace {

// "bandit:" on line 1, its keys on lines 2-6, "sweep:" on line 7, its keys from line 8 on.
const std::string bandit = "bandit:\n"
                           "  algorithm: fed2_ucb\n"
                           "  means: [0.1, 0.5, 0.3]\n"
                           "  sigma: 0.5\n"
                           "  sigma_c: 0.02\n"
                           "  T: 1000\n";

std::string with_sweep(const std::string& body) {
  return bandit + "sweep:\n" + body;
}

/// Reading `yaml` as sweep settings fails with "s.yaml:<where>: <path>: ...<problem>...".
void rejected(const std::string& yaml, const std::string& where, const std::string& path, const std::string& problem) {
  INFO(yaml);
  try {
    parse_bandit_sweep(yaml, "s.yaml");
    FAIL("accepted");
  } catch (const troupe::error& e) {
    CHECK_THAT(e.what(), StartsWith("s.yaml:" + where + ": " + path + ": "));
    CHECK_THAT(e.what(), Contains(problem));
  }
}

std::string example_path() {
  const char* root = std::getenv("TROUPE_SOURCE_DIR");
  if (root == nullptr)
    FAIL("TROUPE_SOURCE_DIR is not set: run through ctest");
  return std::string(root) + "/examples/fed_bandit.yaml";
}

/// The parameters the sweep's curves run with, compared field by field.
void same_params(const troupe::config::bandit_params& a, const troupe::config::bandit_params& b) {
  CHECK(a.algorithm == b.algorithm);
  CHECK(a.means == b.means);
  CHECK(a.sigma == b.sigma);
  CHECK(a.sigma_c == b.sigma_c);
  CHECK(a.horizon == b.horizon);
  CHECK(a.comm_cost == b.comm_cost);
  CHECK(a.kappa == b.kappa);
  CHECK(a.f == b.f);
  CHECK(a.g == b.g);
  CHECK(a.g_value == b.g_value);
  CHECK(a.max_clients == b.max_clients);
  CHECK(a.c1 == b.c1);
  CHECK(a.c2 == b.c2);
  CHECK(a.clients == b.clients);
  CHECK(a.exact == b.exact);
  CHECK(a.exact_low == b.exact_low);
  CHECK(a.seed == b.seed);
}

} // namespace

TEST_CASE("bandit sweep spec: the built-in settings are the authors' setting with the theory constants",
          "[config][bandit][sweep]") {
  const bandit_sweep_spec s = parse_bandit_sweep(troupe::config::default_sweep_yaml(), "defaults");
  CHECK(s.fed2.algorithm == bandit_algorithm::fed2_ucb);
  CHECK(s.fed2.means.size() == 10);
  CHECK(s.fed2.sigma == 0.5);
  CHECK(s.fed2.sigma_c == 0.02);
  CHECK(s.fed2.comm_cost == 1);
  CHECK(s.fed2.horizon == 1000000);
  CHECK(s.fed2.kappa == 100);
  CHECK(s.fed2.c1 == 6);
  CHECK(s.fed2.c2 == 6);
  CHECK(s.fed1.algorithm == bandit_algorithm::fed1_ucb);
  CHECK(s.fed1.f == pulls_kind::log);
  CHECK(s.fed1.clients == 5);
  CHECK(s.fed1.kappa == 10);
  CHECK(s.fed1.c1 == 6);
  CHECK(s.fed1.exact == exact_kind::skewed);
  CHECK(s.fed1.exact_low == 0.2);
  CHECK(s.fed1.means == s.fed2.means);
  CHECK(s.fed1.comm_cost == 1);
  CHECK(s.ucb1.algorithm == bandit_algorithm::ucb1);
  CHECK(s.ucb1.comm_cost == 0);
  CHECK(s.run_ucb1);
  CHECK(s.seeds == 20);
  CHECK(s.points == 200);
  SECTION("examples/fed_bandit.yaml says the same (its cluster and metrics are not read)") {
    const bandit_sweep_spec e = troupe::config::load_bandit_sweep(example_path());
    same_params(e.fed2, s.fed2);
    same_params(e.fed1, s.fed1);
    same_params(e.ucb1, s.ucb1);
    CHECK(e.seeds == s.seeds);
    CHECK(e.points == s.points);
    CHECK(e.run_ucb1 == s.run_ucb1);
  }
}

TEST_CASE("bandit sweep spec: the presets' constants", "[config][bandit][sweep]") {
  const auto read = [](const std::string& name, std::uint64_t T) {
    return parse_bandit_sweep(troupe::config::default_sweep_yaml(), "defaults", sweep_preset(name, T));
  };
  SECTION("paper at T = 10^6: Fed2-UCB f = 100, c1 = c2 = 1; Fed1-UCB M = 5, c1 = 4") {
    const auto s = read("paper", 1000000);
    CHECK(s.fed2.kappa == 100);
    CHECK(s.fed2.f == pulls_kind::constant);
    CHECK(s.fed2.c1 == 1);
    CHECK(s.fed2.c2 == 1);
    CHECK(s.fed2.g_value == 2);
    CHECK(s.fed1.clients == 5);
    CHECK(s.fed1.kappa == 10);
    CHECK(s.fed1.c1 == 4);
    CHECK(s.fed1.exact == exact_kind::skewed);
    CHECK(s.fed1.exact_low == 0.2);
    // The authors' synthetic environment stays: K = 10, σ = 0.5, σ_c = 0.02, C = 1.
    CHECK(s.fed2.means.size() == 10);
    CHECK(s.fed2.comm_cost == 1);
  }
  SECTION("paper at T = 10^4: Fed2-UCB f = 50, c1 = 2, c2 = 1") {
    const auto s = read("paper", 10000);
    CHECK(s.fed2.kappa == 50);
    CHECK(s.fed2.c1 == 2);
    CHECK(s.fed2.c2 == 1);
    CHECK(s.fed1.c1 == 4);
  }
  SECTION("theory: c1 = c2 = 6, Fed1-UCB c1 = 6") {
    const auto s = read("theory", 1000000);
    CHECK(s.fed2.c1 == 6);
    CHECK(s.fed2.c2 == 6);
    CHECK(s.fed1.c1 == 6);
  }
  SECTION("another name is refused, naming the known ones") {
    CHECK_THROWS_WITH(sweep_preset("papers", 1000000),
                      StartsWith("--preset papers: unknown preset 'papers'; expected one of: theory, paper"));
  }
}

TEST_CASE("bandit sweep spec: the sweep section's keys are read", "[config][bandit][sweep]") {
  const auto s = parse_bandit_sweep(with_sweep("  seeds: 7\n  points: 50\n  ucb1: false\n"
                                               "  fed1: {clients: 3, kappa: 2.5, c1: 4, exact: {kind: centered}}\n") +
                                        "cluster: {}\nmetrics: {}\n",
                                    "s.yaml");
  CHECK(s.seeds == 7);
  CHECK(s.points == 50);
  CHECK_FALSE(s.run_ucb1);
  CHECK(s.fed1.clients == 3);
  CHECK(s.fed1.kappa == 2.5);
  CHECK(s.fed1.c1 == 4);
  CHECK(s.fed1.exact == exact_kind::centered);
  CHECK(s.fed1.sigma_c == 0.02); // the environment's
  CHECK(s.fed2.means == std::vector<double>{0.1, 0.5, 0.3});
  CHECK(s.fed1.horizon == 1000);
}

TEST_CASE("bandit sweep spec: bad values name file, line, column and key", "[config][bandit][sweep]") {
  rejected(with_sweep("  seeds: 0\n"), "8:10", "sweep.seeds", "expected an integer in [1, 1000000], got '0'");
  rejected(with_sweep("  points: 1\n"), "8:11", "sweep.points", "expected an integer in [2, 100000], got '1'");
  rejected(with_sweep("  ucb1: maybe\n"), "8:9", "sweep.ucb1", "maybe");
  rejected(with_sweep("  fed1: {clients: 0}\n"), "8:19", "sweep.fed1.clients", "got '0'");
  rejected(with_sweep("  fed1: {kappa: -1}\n"), "8:17", "sweep.fed1.kappa", "expected a positive number");
  rejected(with_sweep("  fed1: {c1: 0}\n"), "8:14", "sweep.fed1.c1", "expected a positive number");
  rejected(with_sweep("  fed1: {exact: {kind: diagonal}}\n"), "8:24", "sweep.fed1.exact.kind",
           "unknown exact model kind 'diagonal'");
  rejected(with_sweep("  fed1: {exact: {kind: centered, low: 0.1}}\n"), "8:39", "sweep.fed1.exact.low",
           "'low' belongs to kind 'skewed'");
  rejected(with_sweep("  fed1: {clients: 5, sigma: 1}\n"), "8:22", "sweep.fed1.sigma", "unknown key 'sigma'");
  rejected(with_sweep("  seed: 3\n"), "8:3", "sweep.seed", "did you mean 'seeds'?");
  rejected(bandit + "swep: {}\n", "7:1", "swep", "did you mean 'sweep'?");
  rejected("bandit:\n  algorithm: fed1_ucb\n  means: [0, 1]\n  sigma: 1\n  T: 9\n  clients: 2\n", "2:14",
           "bandit.algorithm", "from a fed2_ucb section (Fed1-UCB's go in sweep.fed1), got fed1_ucb");
}

TEST_CASE("bandit sweep spec: a setting's error cites its label, not the file", "[config][bandit][sweep]") {
  const std::vector<sweep_setting> bad_sigma = {{{"bandit.sigma", "-1"}, "--sigma -1"}};
  CHECK_THROWS_WITH(parse_bandit_sweep(bandit, "s.yaml", bad_sigma),
                    StartsWith("--sigma -1: bandit.sigma: expected a positive number, got '-1'"));
  const std::vector<sweep_setting> bad_yaml = {{{"bandit.g", "{kind: [}"}, "--g [:1"}};
  CHECK_THROWS_WITH(parse_bandit_sweep(bandit, "s.yaml", bad_yaml), StartsWith("--g [:1: the value"));
  const std::vector<sweep_setting> good = {{{"sweep.fed1.c1", "4"}, "--fed1-c1 4"}};
  CHECK(parse_bandit_sweep(bandit, "s.yaml", good).fed1.c1 == 4);
}

TEST_CASE("bandit spec: troupe-node checks a sweep section too", "[config][bandit][sweep]") {
  const std::string cluster = "cluster:\n"
                              "  id: b\n"
                              "  nodes:\n"
                              "    - {name: s, roles: [aggregator], endpoint: 'tcp://127.0.0.1:5801'}\n"
                              "    - {name: h, roles: [trainer], endpoint: 'tcp://127.0.0.1:5802'}\n";
  CHECK(troupe::config::parse_bandit_spec(cluster + with_sweep("  seeds: 3\n"), "b.yaml").bandit.horizon == 1000);
  CHECK_THROWS_WITH(troupe::config::parse_bandit_spec(cluster + with_sweep("  seeds: 0\n"), "b.yaml"),
                    StartsWith("b.yaml:13:10: sweep.seeds: "));
}
