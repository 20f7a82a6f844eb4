#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/bandit_spec.hpp"

using Catch::Contains;
using Catch::StartsWith;
using troupe::config::admission_kind;
using troupe::config::bandit_algorithm;
using troupe::config::bandit_spec;
using troupe::config::best_arm;
using troupe::config::exact_kind;
using troupe::config::parse_bandit_spec;
using troupe::config::pulls_kind;
using troupe::config::role;

namespace {

std::string example_path() {
  const char* root = std::getenv("TROUPE_SOURCE_DIR");
  if (root == nullptr)
    FAIL("TROUPE_SOURCE_DIR is not set: run through ctest");
  return std::string(root) + "/examples/fed_bandit.yaml";
}

// Line 1 "cluster:", nodes on lines 4 and 5, "bandit:" on line 6, its keys from line 7 on.
const std::string cluster = "cluster:\n"
                            "  id: b\n"
                            "  nodes:\n"
                            "    - {name: s, roles: [aggregator], endpoint: 'tcp://127.0.0.1:5801'}\n"
                            "    - {name: h, roles: [trainer], endpoint: 'tcp://127.0.0.1:5802', trainers: 2}\n";

std::string doc(const std::string& bandit_body, const std::string& nodes = cluster) {
  return nodes + "bandit:\n" + bandit_body;
}

const std::string fed2 = "  algorithm: fed2_ucb\n  means: [0.1, 0.5, 0.3]\n  sigma: 0.5\n  sigma_c: 0.02\n  T: 1000\n";

/// Parsing `yaml` fails with "b.yaml:<where>: <path>: ...<problem>...".
void rejected(const std::string& yaml, const std::string& where, const std::string& path, const std::string& problem) {
  INFO(yaml);
  try {
    parse_bandit_spec(yaml, "b.yaml");
    FAIL("accepted");
  } catch (const troupe::error& e) {
    CHECK_THAT(e.what(), StartsWith("b.yaml:" + where + ": " + path + ": "));
    CHECK_THAT(e.what(), Contains(problem));
  }
}

} // namespace

TEST_CASE("bandit spec: the shipped fed_bandit.yaml is Fed2-UCB on the authors' setting", "[config][bandit]") {
  const bandit_spec s = troupe::config::load_bandit_spec(example_path());
  CHECK(s.cluster.id == "fed-bandit");
  REQUIRE(s.cluster.nodes.size() == 3);
  CHECK(s.cluster.nodes[0].roles == std::vector<role>{role::aggregator});
  CHECK(total_trainers(s.cluster) == 4);
  const auto& b = s.bandit;
  CHECK(b.algorithm == bandit_algorithm::fed2_ucb);
  CHECK(b.means.size() == 10);
  CHECK(best_arm(b) == 9);
  CHECK(b.sigma == 0.5);
  CHECK(b.sigma_c == 0.02);
  CHECK(b.horizon == 1000000);
  CHECK(b.comm_cost == 1);
  CHECK(b.kappa == 100);
  CHECK(b.f == pulls_kind::constant);
  CHECK(b.g == admission_kind::exponential);
  CHECK(b.g_value == 2);
  CHECK(b.c1 == 6);
  CHECK(b.c2 == 6);
  CHECK(s.metrics_dir == "runs/fed-bandit/metrics");
}

TEST_CASE("bandit spec: defaults per algorithm", "[config][bandit]") {
  SECTION("fed2_ucb: g = 2^p, f = κ = 100, theory constants, metrics under runs/<id>") {
    const auto s = parse_bandit_spec(doc(fed2), "b.yaml");
    CHECK(s.bandit.kappa == 100);
    CHECK(s.bandit.f == pulls_kind::constant);
    CHECK(s.bandit.g_value == 2);
    CHECK(s.bandit.c1 == 6);
    CHECK(s.bandit.seed == 1);
    CHECK(s.metrics_dir == "runs/b/metrics");
  }
  SECTION("fed1_ucb: f = ⌈κ ln T⌉ with κ = 10, the skewed exact model") {
    const auto s = parse_bandit_spec(
        doc("  algorithm: fed1_ucb\n  means: [0.1, 0.5]\n  sigma: 0.5\n  T: 1000\n  clients: 5\n"), "b.yaml");
    CHECK(s.bandit.algorithm == bandit_algorithm::fed1_ucb);
    CHECK(s.bandit.f == pulls_kind::log);
    CHECK(s.bandit.kappa == 10);
    CHECK(s.bandit.clients == 5);
    CHECK(s.bandit.exact == exact_kind::skewed);
    CHECK(s.bandit.exact_low == 0.2);
  }
  SECTION("ucb1 needs only the arms, sigma and T") {
    const auto s = parse_bandit_spec(doc("  algorithm: ucb1\n  means: [0.1, 0.5]\n  sigma: 0.5\n  T: 50\n"), "b.yaml");
    CHECK(s.bandit.algorithm == bandit_algorithm::ucb1);
  }
}

TEST_CASE("bandit spec: generators", "[config][bandit]") {
  SECTION("linear: evenly spaced by gap, the last arm best at top") {
    const auto s = parse_bandit_spec(
        doc("  algorithm: ucb1\n  K: 4\n  generator: {kind: linear, top: 1.0, gap: 0.25}\n  sigma: 1\n  T: 10\n"),
        "b.yaml");
    CHECK(s.bandit.means == std::vector<double>{0.25, 0.5, 0.75, 1.0});
  }
  SECTION("random: in [low, high), best leads by gap, a function of the seed") {
    const std::string body = "  algorithm: ucb1\n  K: 50\n  generator: {kind: random, gap: 0.1}\n  sigma: 1\n  T: 10\n";
    const auto a = parse_bandit_spec(doc(body + "  seed: 3\n"), "b.yaml").bandit;
    const auto b = parse_bandit_spec(doc(body + "  seed: 3\n"), "b.yaml").bandit;
    const auto c = parse_bandit_spec(doc(body + "  seed: 4\n"), "b.yaml").bandit;
    CHECK(a.means == b.means);
    CHECK(a.means != c.means);
    REQUIRE(a.means.size() == 50);
    const double best = a.means[best_arm(a)];
    for (std::size_t k = 0; k < a.means.size(); ++k)
      if (k != best_arm(a))
        CHECK(best - a.means[k] >= 0.1 - 1e-12);
  }
}

TEST_CASE("bandit spec: --set overrides apply before validation", "[config][bandit]") {
  const auto s = parse_bandit_spec(
      doc(fed2), "b.yaml",
      {troupe::config::parse_override("bandit.T=5000"), troupe::config::parse_override("metrics.dir=/tmp/m")});
  CHECK(s.bandit.horizon == 5000);
  CHECK(s.metrics_dir == "/tmp/m");
  CHECK_THROWS_WITH(parse_bandit_spec(doc(fed2), "b.yaml", {troupe::config::parse_override("bandit.sigma=-1")}),
                    StartsWith("--set bandit.sigma=-1: bandit.sigma: "));
}

TEST_CASE("bandit spec: bad bandit sections name file, line, column and key", "[config][bandit]") {
  rejected(doc(fed2 + "  kapa: 3\n"), "12:3", "bandit.kapa", "unknown key 'kapa' (did you mean 'kappa'?)");
  rejected(doc("  algorithm: fed3_ucb\n"), "7:14", "bandit.algorithm", "unknown bandit algorithm 'fed3_ucb'");
  rejected(doc("  algorithm: ucb1\n  sigma: 1\n  T: 10\n"), "7:3", "bandit", "missing the arm means");
  rejected(doc("  algorithm: ucb1\n  means: [1, 2]\n  generator: {kind: linear, gap: 1}\n  K: 2\n  sigma: 1\n  T: 9\n"),
           "7:3", "bandit", "either 'means' or 'generator', not both");
  rejected(doc("  algorithm: ucb1\n  K: 3\n  means: [1, 2]\n  sigma: 1\n  T: 9\n"), "8:6", "bandit.K",
           "K = 3 but 'means' lists 2 arms");
  rejected(doc("  algorithm: ucb1\n  means: [1]\n  sigma: 1\n  T: 9\n"), "8:10", "bandit.means",
           "between 2 and 65536 arm means, got 1");
  rejected(doc("  algorithm: ucb1\n  means: [0.5, 0.9, 0.9]\n  sigma: 1\n  T: 9\n"), "8:10", "bandit.means",
           "arms 1 and 2 share the best mean 0.9");
  rejected(doc("  algorithm: ucb1\n  generator: {kind: linear, gap: 1}\n  sigma: 1\n  T: 9\n"), "7:3", "bandit",
           "missing key 'K'");
  rejected(doc("  algorithm: ucb1\n  K: 2\n  generator: {kind: linear, gap: 0}\n  sigma: 1\n  T: 9\n"), "9:34",
           "bandit.generator.gap", "positive");
  rejected(doc("  algorithm: ucb1\n  means: [0, 1]\n  sigma: 0\n  T: 9\n"), "9:10", "bandit.sigma", "positive");
  rejected(doc("  algorithm: ucb1\n  means: [0, 1]\n  sigma: 1\n  T: 1\n"), "10:6", "bandit.T",
           "an integer in [2, 1000000000000]");
  rejected(doc("  algorithm: ucb1\n  means: [0, 1]\n  sigma: 1\n  T: 9\n  kappa: 3\n"), "11:10", "bandit.kappa",
           "'kappa' does not apply to ucb1");
  rejected(doc("  algorithm: fed1_ucb\n  means: [0, 1]\n  sigma: 1\n  T: 9\n  g: {kind: constant, value: 1}\n"), "11:6",
           "bandit.g", "'g' does not apply to fed1_ucb");
  rejected(doc("  algorithm: fed1_ucb\n  means: [0, 1]\n  sigma: 1\n  T: 9\n"), "7:3", "bandit.clients",
           "missing required key 'clients'");
  rejected(doc("  algorithm: fed1_ucb\n  means: [0, 1]\n  sigma: 1\n  T: 9\n  clients: 2\n  sigma_c: 0.1\n"), "12:12",
           "bandit.sigma_c", "only used by the exact model kind 'centered'");
  rejected(doc(fed2 + "  kappa: 2.5\n"), "12:10", "bandit.kappa", "must be a whole number, got 2.5");
  rejected(doc(fed2 + "  g: {kind: exponential, value: 3}\n"), "12:33", "bandit.g.value", "takes 'base', not 'value'");
  rejected(doc(fed2 + "  g: {kind: linear}\n"), "12:6", "bandit.g.value", "missing required key 'value'");
  rejected(doc(fed2 + "  f: {kind: sqrt}\n"), "12:13", "bandit.f.kind", "unknown f(p) kind 'sqrt'");
  rejected(doc("  algorithm: fed2_ucb\n  means: [0, 1]\n  sigma: 1\n  T: 9\n"), "7:3", "bandit.sigma_c",
           "missing required key 'sigma_c'");
}

TEST_CASE("bandit spec: bad clusters name file, line, column and key", "[config][bandit]") {
  const std::string body = "  algorithm: ucb1\n  means: [0, 1]\n  sigma: 1\n  T: 9\n";
  const std::string head = "cluster:\n  id: b\n  nodes:\n";
  const std::string s = "    - {name: s, roles: [aggregator], endpoint: 'tcp://127.0.0.1:5801'}\n";
  rejected(doc(body, head + s + "    - {name: l, roles: [loader], endpoint: 'tcp://127.0.0.1:5802'}\n"), "5:25",
           "cluster.nodes[1].roles[0]", "the bandit workload has no data loader");
  rejected(doc(body, head + s), "4:5", "cluster.nodes", "no node has the trainer role");
  rejected(doc(body, head + "    - {name: h, roles: [trainer], endpoint: 'tcp://127.0.0.1:5802'}\n"), "4:5",
           "cluster.nodes", "no node has the aggregator role");
  rejected(doc(body, head + s + "    - {name: t, roles: [aggregator, trainer], endpoint: 'tcp://127.0.0.1:5803'}\n"),
           "5:24", "cluster.nodes[1].roles", "a second aggregator");
  rejected(doc(body, head + s + "    - {name: s, roles: [trainer], endpoint: 'tcp://127.0.0.1:5803'}\n"), "5:14",
           "cluster.nodes[1].name", "duplicate node name 's'");
  rejected(doc(body, head + s + "    - {name: t, roles: [trainer], endpoint: 'tcp://127.0.0.1:5801'}\n"), "5:45",
           "cluster.nodes[1].endpoint", "already used by node 's' (cluster.nodes[0])");
  rejected(doc(body, head + s + "    - {name: t, roles: [trainer], endpoint: 'inproc://t'}\n"), "5:45",
           "cluster.nodes[1].endpoint", "inproc:// only reaches nodes in the same process");
  rejected(doc(body, head + s + "    - {name: t, roles: [trainer], endpoint: 'tcp://h:1', trainers: 0}\n"), "5:68",
           "cluster.nodes[1].trainers", "needs trainers >= 1, got 0");
  rejected(doc(body, head + s + "    - {name: t, roles: [trainer], endpoint: 'tcp://h:1', trainers: 1025}\n"), "5:68",
           "cluster.nodes[1].trainers", "[0, 1024]");
  rejected(doc(body, head + "    - {name: s, roles: [aggregator], endpoint: 'inproc://s', trainers: 2}\n"), "4:72",
           "cluster.nodes[0].trainers", "has no trainer role");
  rejected(doc(body) + "metrics: {dir: ''}\n", "11:16", "metrics.dir", "expected a directory");
  rejected(doc(body) + "job: {}\n", "11:1", "job", "unknown key 'job'");
}

// The cluster section is read by config::read_cluster, as in a topology file: timing, supervision
// and security come with it, and so do its checks and messages.
TEST_CASE("bandit spec: the cluster section takes failure_timeout_s, supervisor and security", "[config][bandit]") {
  const std::string body = "  algorithm: ucb1\n  means: [0, 1]\n  sigma: 1\n  T: 9\n";
  // Two valid Z85 keys (any 40 characters of the alphabet pass the syntax check).
  const std::string k1 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
  const std::string k2 = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
  SECTION("defaults: 2.5 heartbeats, plaintext on loopback, keys next to the file") {
    const auto s = parse_bandit_spec(doc(body), "b.yaml", {}, "/cfg");
    CHECK(s.cluster.failure_timeout_s == 2.5);
    CHECK_FALSE(s.cluster.security.curve);
    CHECK(s.cluster.security.key_dir == "/cfg/keys");
  }
  SECTION("given values are read") {
    const auto s =
        parse_bandit_spec(doc(body, "cluster:\n"
                                    "  id: b\n"
                                    "  heartbeat_s: 0.5\n"
                                    "  failure_timeout_s: 4\n"
                                    "  supervisor: {strategy: one_for_all, max_restarts: 5}\n"
                                    "  security: {curve: on, key_dir: keys/bandit}\n"
                                    "  nodes:\n"
                                    "    - {name: s, roles: [aggregator], endpoint: 'tcp://127.0.0.1:5801', "
                                    "public_key: '" +
                                        k1 +
                                        "'}\n"
                                        "    - {name: h, roles: [trainer], endpoint: 'tcp://127.0.0.1:5802', "
                                        "trainers: 2, public_key: '" +
                                        k2 + "'}\n"),
                          "b.yaml", {}, "/cfg");
    CHECK(s.cluster.heartbeat_s == 0.5);
    CHECK(s.cluster.failure_timeout_s == 4);
    CHECK(s.cluster.supervisor.strategy == "one_for_all");
    CHECK(s.cluster.supervisor.max_restarts == 5);
    CHECK(s.cluster.security.curve);
    CHECK(s.cluster.security.key_dir == "/cfg/keys/bandit");
    CHECK(s.cluster.nodes[1].public_key == k2);
    CHECK(total_trainers(s.cluster) == 2);
  }
  SECTION("--set reaches them too") {
    const auto s =
        parse_bandit_spec(doc(body), "b.yaml", {troupe::config::parse_override("cluster.failure_timeout_s=7")});
    CHECK(s.cluster.failure_timeout_s == 7);
  }
}

TEST_CASE("bandit spec: a bad cluster key is named with file, line, column and key path", "[config][bandit]") {
  const std::string body = "  algorithm: ucb1\n  means: [0, 1]\n  sigma: 1\n  T: 9\n";
  const std::string nodes = "  nodes:\n"
                            "    - {name: s, roles: [aggregator], endpoint: 'tcp://127.0.0.1:5801'}\n"
                            "    - {name: h, roles: [trainer], endpoint: 'tcp://127.0.0.1:5802'}\n";
  rejected(doc(body, "cluster:\n  id: b\n  failure_timout_s: 4\n" + nodes), "3:3", "cluster.failure_timout_s",
           "unknown key 'failure_timout_s' (did you mean 'failure_timeout_s'?)");
  rejected(doc(body, "cluster:\n  id: b\n  security: {curv: on}\n" + nodes), "3:14", "cluster.security.curv",
           "unknown key 'curv' (did you mean 'curve'?)");
  rejected(doc(body, "cluster:\n  id: b\n  failure_timeout_s: 0.5\n" + nodes), "3:22", "cluster.failure_timeout_s",
           "must be longer than heartbeat_s (1)");
  rejected(doc(body, "cluster:\n  id: b\n  nodes:\n"
                     "    - {name: s, role: [aggregator], endpoint: 'tcp://127.0.0.1:5801'}\n"),
           "4:17", "cluster.nodes[0].role", "unknown key 'role' (did you mean 'roles'?)");
  // A client-host actor has no compute pool, so `threads` is not a bandit node's key.
  rejected(doc(body, "cluster:\n  id: b\n" + nodes.substr(0, nodes.size() - 2) + ", threads: 2}\n"), "5:69",
           "cluster.nodes[1].threads", "unknown key 'threads'");
  // Off this machine the links need CURVE keys, or an explicit opt-out, as for training.
  rejected(doc(body, "cluster:\n  id: b\n  nodes:\n"
                     "    - {name: s, roles: [aggregator], endpoint: 'tcp://0.0.0.0:5801'}\n"
                     "    - {name: h, roles: [trainer], endpoint: 'tcp://127.0.0.1:5802'}\n"),
           "4:7", "cluster.nodes[0]", "node 's' has no public_key, but CURVE is on");
}
