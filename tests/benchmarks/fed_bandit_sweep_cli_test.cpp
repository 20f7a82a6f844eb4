#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "benchmarks/fed_bandit/sweep_cli.hpp"
#include "common/error.hpp"

using Catch::Contains;
using Catch::StartsWith;
using troupe::bench::flag_value_to_yaml;
using troupe::bench::sweep_cli;
using troupe::bench::sweep_command;
using troupe::config::bandit_sweep_spec;

namespace {

/// fed_bandit_sweep's command line `args` (without the program name), parsed and resolved.
sweep_command parse(const std::vector<std::string>& args) {
  CLI::App app;
  sweep_cli cli(app);
  std::vector<const char*> argv = {"fed_bandit_sweep"};
  for (const auto& a : args)
    argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return cli.resolve();
}

/// The message of the troupe::error that `args` end in.
std::string error_of(const std::vector<std::string>& args) {
  try {
    parse(args);
  } catch (const troupe::error& e) {
    return e.what();
  }
  FAIL("accepted");
  return "";
}

struct good_case {
  std::string value;
  std::function<bool(const bandit_sweep_spec&)> holds;
};

/// One accepted value per flag and what it must set.
const std::map<std::string, good_case> good = {
    {"--means",
     {"0.1,0.5,0.3",
      [](const auto& s) {
        return s.fed2.means == std::vector<double>{0.1, 0.5, 0.3};
      }}},
    {"--sigma",
     {"0.3", [](const auto& s) { return s.fed2.sigma == 0.3 && s.fed1.sigma == 0.3 && s.ucb1.sigma == 0.3; }}},
    {"--sigma-c", {"0.05", [](const auto& s) { return s.fed2.sigma_c == 0.05; }}},
    {"--C", {"0", [](const auto& s) { return s.fed2.comm_cost == 0 && s.fed1.comm_cost == 0; }}},
    {"--T", {"1e4", [](const auto& s) { return s.fed2.horizon == 10000 && s.ucb1.horizon == 10000; }}},
    {"--seed", {"7", [](const auto& s) { return s.fed2.seed == 7 && s.fed1.seed == 7; }}},
    {"--kappa", {"50", [](const auto& s) { return s.fed2.kappa == 50 && s.fed1.kappa == 10; }}},
    {"--f", {"log", [](const auto& s) { return s.fed2.f == troupe::config::pulls_kind::log; }}},
    {"--g",
     {"linear:4",
      [](const auto& s) { return s.fed2.g == troupe::config::admission_kind::linear && s.fed2.g_value == 4; }}},
    {"--c1", {"1.5", [](const auto& s) { return s.fed2.c1 == 1.5 && s.fed1.c1 == 6; }}},
    {"--c2", {"2", [](const auto& s) { return s.fed2.c2 == 2; }}},
    {"--max-clients", {"64", [](const auto& s) { return s.fed2.max_clients == 64; }}},
    {"--fed1-clients", {"3", [](const auto& s) { return s.fed1.clients == 3; }}},
    {"--fed1-kappa", {"2.5", [](const auto& s) { return s.fed1.kappa == 2.5 && s.fed2.kappa == 100; }}},
    {"--fed1-c1", {"4", [](const auto& s) { return s.fed1.c1 == 4 && s.fed2.c1 == 6; }}},
    {"--fed1-exact",
     {"skewed:0.1",
      [](const auto& s) { return s.fed1.exact == troupe::config::exact_kind::skewed && s.fed1.exact_low == 0.1; }}},
    {"--seeds", {"3", [](const auto& s) { return s.seeds == 3; }}},
    {"--points", {"50", [](const auto& s) { return s.points == 50; }}},
};

/// One refused value per flag and what the message must say after "<flag> <value>: <key path>: ".
struct bad_case {
  std::string flag, value, problem;
};
const std::vector<bad_case> bad = {
    {"--means", "0.5,0.5", "arms 0 and 1 share the best mean 0.5"},
    {"--means", "0.5", "expected between 2 and 65536 arm means, got 1"},
    {"--sigma", "-1", "expected a positive number, got '-1'"},
    {"--sigma-c", "-0.1", "expected a non-negative number, got '-0.1'"},
    {"--C", "-1", "expected a non-negative number, got '-1'"},
    {"--T", "1", "expected an integer in [2, 1000000000000], got '1'"},
    {"--T", "2.5", "got '2.5'"},
    {"--seed", "x", "expected a non-negative integer, got 'x'"},
    {"--kappa", "0", "expected a positive number, got '0'"},
    {"--f", "cubic", "unknown f(p) kind 'cubic'"},
    {"--g", "exponential:1", "expected an integer in [2, 1024], got '1'"},
    {"--g", "linear:0", "expected a positive integer, got '0'"},
    {"--g", "geometric", "unknown g(p) kind 'geometric'"},
    {"--c1", "0", "expected a positive number, got '0'"},
    {"--c2", "-1", "expected a positive number, got '-1'"},
    {"--max-clients", "0", "got '0'"},
    {"--fed1-clients", "0", "got '0'"},
    {"--fed1-kappa", "0", "expected a positive number, got '0'"},
    {"--fed1-c1", "0", "expected a positive number, got '0'"},
    {"--fed1-exact", "centered:0.3", "'low' belongs to kind 'skewed'"},
    {"--fed1-exact", "diagonal", "unknown exact model kind 'diagonal'"},
    {"--seeds", "0", "expected an integer in [1, 1000000], got '0'"},
    {"--points", "1", "expected an integer in [2, 100000], got '1'"},
};

} // namespace

TEST_CASE("fed_bandit_sweep flags: every flag sets its YAML value", "[benchmarks][bandit][sweep]") {
  for (const auto& f : troupe::bench::sweep_flags()) {
    INFO(f.name);
    REQUIRE(good.count(f.name) == 1); // a new flag needs a case here
    const auto& c = good.at(f.name);
    CHECK(c.holds(parse({f.name, c.value}).spec));
  }
}

TEST_CASE("fed_bandit_sweep flags: a bad value is refused naming the flag and the key", "[benchmarks][bandit][sweep]") {
  std::map<std::string, int> covered;
  for (const auto& c : bad) {
    std::string path;
    for (const auto& f : troupe::bench::sweep_flags())
      if (c.flag == f.name)
        path = f.path;
    REQUIRE(!path.empty());
    const std::string message = error_of({c.flag, c.value});
    INFO(c.flag << " " << c.value);
    CHECK_THAT(message, StartsWith(c.flag + " " + c.value + ": " + path));
    CHECK_THAT(message, Contains(c.problem));
    ++covered[c.flag];
  }
  for (const auto& f : troupe::bench::sweep_flags())
    CHECK(covered[f.name] >= 1);
}

TEST_CASE("fed_bandit_sweep flags: presets, files, --set and outputs", "[benchmarks][bandit][sweep]") {
  SECTION("no flags: the theory constants, UCB1 on, the CSV beside the SVG") {
    const auto c = parse({});
    CHECK(c.spec.fed2.c1 == 6);
    CHECK(c.spec.run_ucb1);
    CHECK(c.svg_path == "fed_bandit_regret.svg");
    CHECK(c.csv_path == "fed_bandit_regret.csv");
    CHECK_FALSE(c.log_t);
  }
  SECTION("--preset paper, and at --T 1e4 its short-horizon constants") {
    const auto c = parse({"--preset", "paper"});
    CHECK(c.preset == "paper");
    CHECK(c.spec.fed2.c1 == 1);
    CHECK(c.spec.fed2.c2 == 1);
    CHECK(c.spec.fed2.kappa == 100);
    CHECK(c.spec.fed1.c1 == 4);
    CHECK(c.spec.fed1.clients == 5);
    CHECK(c.spec.fed2.horizon == 1000000);
    CHECK(c.notes.empty());
    const auto s = parse({"--preset", "paper", "--T", "1e4"});
    CHECK(s.spec.fed2.horizon == 10000);
    CHECK(s.spec.fed2.kappa == 50);
    CHECK(s.spec.fed2.c1 == 2);
    CHECK(s.spec.fed2.c2 == 1);
    const auto t = parse({"--preset", "paper", "--T", "50000"});
    CHECK(t.spec.fed2.c1 == 1);
    REQUIRE(t.notes.size() == 1);
    CHECK_THAT(t.notes[0], Contains("T = 50000 uses those of 10^6"));
  }
  SECTION("a flag wins over the preset") {
    CHECK(parse({"--preset", "paper", "--c1", "3"}).spec.fed2.c1 == 3);
  }
  SECTION("an unknown preset") {
    CHECK_THAT(error_of({"--preset", "papr"}), StartsWith("--preset papr: unknown preset 'papr'"));
  }
  SECTION("--preset and --config exclude each other") {
    CHECK_THROWS_AS(parse({"--preset", "paper", "--config", "x.yaml"}), CLI::ParseError);
  }
  SECTION("--no-ucb1, --log-t, --svg and --csv") {
    const auto c = parse({"--no-ucb1", "--log-t", "--svg", "/tmp/r/plot.svg"});
    CHECK_FALSE(c.spec.run_ucb1);
    CHECK(c.log_t);
    CHECK(c.csv_path == "/tmp/r/plot.csv");
    CHECK(parse({"--svg", "a.svg", "--csv", "b.csv"}).csv_path == "b.csv");
  }
  SECTION("--set reaches any key; its error cites it") {
    CHECK(parse({"--set", "sweep.fed1.exact.low=0.1"}).spec.fed1.exact_low == 0.1);
    CHECK_THAT(error_of({"--set", "sweep.seeds=0"}), StartsWith("--set sweep.seeds=0: sweep.seeds: "));
  }
  SECTION("--config: values from the file, flags over them, the file's errors by line and column") {
    const std::string path =
        (std::filesystem::temp_directory_path() / fmt::format("fed_bandit_sweep_cli_test_{}.yaml", ::getpid()))
            .string();
    {
      std::ofstream f(path);
      f << "bandit:\n  algorithm: fed2_ucb\n  means: [0.2, 0.4]\n  sigma: 0.25\n  sigma_c: 0.01\n  T: 5000\n"
           "sweep: {seeds: 4}\n";
    }
    const auto c = parse({"--config", path, "--sigma", "0.5"});
    CHECK(c.spec.fed2.means == std::vector<double>{0.2, 0.4});
    CHECK(c.spec.fed2.horizon == 5000);
    CHECK(c.spec.seeds == 4);
    CHECK(c.spec.fed2.sigma == 0.5);
    {
      std::ofstream f(path);
      f << "bandit:\n  algorithm: fed2_ucb\n  means: [0.2, 0.4]\n  sigma: 0\n  sigma_c: 0.01\n  T: 5000\n";
    }
    CHECK_THAT(error_of({"--config", path}), StartsWith(path + ":4:10: bandit.sigma: expected a positive number"));
    std::remove(path.c_str());
  }
}

TEST_CASE("fed_bandit_sweep flags: how a flag's text becomes YAML", "[benchmarks][bandit][sweep]") {
  CHECK(flag_value_to_yaml("integer", "1e6") == "1000000");
  CHECK(flag_value_to_yaml("integer", "250") == "250");
  CHECK(flag_value_to_yaml("integer", "2.5") == "2.5"); // left for the reader to refuse
  CHECK(flag_value_to_yaml("list", "0.1,0.2") == "[0.1,0.2]");
  CHECK(flag_value_to_yaml("list", "[0.1, 0.2]") == "[0.1, 0.2]");
  CHECK(flag_value_to_yaml("g", "exponential") == "{kind: exponential}");
  CHECK(flag_value_to_yaml("g", "exponential:3") == "{kind: exponential, base: 3}");
  CHECK(flag_value_to_yaml("g", "constant:8") == "{kind: constant, value: 8}");
  CHECK(flag_value_to_yaml("f", "log") == "{kind: log}");
  CHECK(flag_value_to_yaml("exact", "skewed:0.2") == "{kind: skewed, low: 0.2}");
  CHECK(flag_value_to_yaml("exact", "centered") == "{kind: centered}");
  CHECK(flag_value_to_yaml("number", "-1") == "-1");
}
