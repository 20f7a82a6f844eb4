#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "bandit/runner.hpp"
#include "bandit/simulation.hpp"
#include "common/error.hpp"

using namespace troupe::bandit;
using Catch::Contains;
using troupe::config::bandit_spec;

namespace {

/// A fresh directory under the system temp dir, removed at scope exit.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() / fmt::format("troupe-bandit-{}-{}", ::getpid(), counter++);
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
    // ipc:// sockets live here: the runtime refuses to listen in plaintext where other users can enter.
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
  }
  ~scratch_dir() { std::filesystem::remove_all(path); }
};

std::string bandit_section(const std::string& algorithm, const std::string& extra = "") {
  const std::string common = "  means: [0.70, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.765, 0.77, 0.79]\n"
                             "  sigma: 0.5\n  T: 20000\n  seed: 5\n";
  if (algorithm == "fed2_ucb")
    return "bandit:\n  algorithm: fed2_ucb\n" + common + "  sigma_c: 0.02\n  kappa: 50\n  c1: 1\n  c2: 1\n" + extra;
  if (algorithm == "fed1_ucb")
    return "bandit:\n  algorithm: fed1_ucb\n" + common + "  clients: 5\n  kappa: 2\n  C: 0.5\n  c1: 1\n" + extra;
  return "bandit:\n  algorithm: ucb1\n" + common + extra;
}

bandit_spec spec(const std::string& nodes, const std::string& bandit, const scratch_dir& dir,
                 const std::string& timing = "") {
  const std::string yaml = "cluster:\n  id: bt\n" + timing + "  nodes:\n" + nodes + bandit + "metrics: {dir: '" +
                           (dir.path / "metrics").string() + "', console: false}\n";
  return troupe::config::parse_bandit_spec(yaml, "bt.yaml");
}

std::vector<std::string> all_nodes(const bandit_spec& s) {
  std::vector<std::string> out;
  for (const auto& n : s.cluster.nodes)
    out.push_back(n.name);
  return out;
}

/// Every record of a metrics file, or (`run_only`) all but the node's own last one (node_exit).
std::vector<nlohmann::json> records(const std::filesystem::path& file, bool run_only = true) {
  std::ifstream in(file);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    auto rec = nlohmann::json::parse(line);
    if (!run_only || rec.value("event", "") != "node_exit")
      out.push_back(std::move(rec));
  }
  return out;
}

} // namespace

TEST_CASE("the runner over inproc gives exactly the in-memory simulation's result", "[bandit][runner]") {
  const std::string algorithm = GENERATE("fed2_ucb", "fed1_ucb", "ucb1");
  const int hosts = GENERATE(1, 3);
  scratch_dir dir;
  const auto s = spec(fmt::format("    - {{name: main, roles: [aggregator, trainer], endpoint: 'inproc://main', "
                                  "trainers: {}}}\n",
                                  hosts),
                      bandit_section(algorithm), dir);
  const auto r = run_bandit_nodes(s, {{"main"}, nullptr, nullptr});
  REQUIRE(r.has_value());
  INFO(algorithm << " with " << hosts << " hosts");
  CHECK(*r == simulate(s.bandit));
  CHECK(r->found_best(s.bandit));
}

TEST_CASE("three nodes over tcp ephemeral ports in one process match the simulation and log JSONL metrics",
          "[bandit][runner]") {
  scratch_dir dir;
  const auto s = spec("    - {name: srv, roles: [aggregator], endpoint: 'tcp://127.0.0.1:*'}\n"
                      "    - {name: h0, roles: [trainer], endpoint: 'tcp://127.0.0.1:*', trainers: 2}\n"
                      "    - {name: h1, roles: [trainer], endpoint: 'tcp://127.0.0.1:0'}\n",
                      bandit_section("fed2_ucb"), dir);
  const auto r = run_bandit_nodes(s, {all_nodes(s), nullptr, nullptr});
  REQUIRE(r.has_value());
  CHECK(*r == simulate(s.bandit));

  // Each node's own last record says how it ended; the rest are the run's.
  for (const char* node : {"srv.jsonl", "h0.jsonl", "h1.jsonl"}) {
    const auto all = records(dir.path / "metrics" / node, false);
    REQUIRE_FALSE(all.empty());
    CHECK(all.back()["event"] == "node_exit");
    CHECK(all.back()["outcome"] == "done");
  }
  const auto server = records(dir.path / "metrics" / "srv.jsonl");
  REQUIRE(server.size() == r->trace.size() + 1);
  for (const auto& rec : server)
    for (const char* key : {"ts", "node", "actor", "role", "step", "phase", "active_arms", "clients",
                            "cumulative_regret", "communication_cost"})
      CHECK(rec.contains(key));
  CHECK(server[0]["node"] == "srv");
  CHECK(server[0]["role"] == "aggregator");
  CHECK(server[0]["phase"] == 1);
  CHECK(server[0]["clients"] == 2);
  const auto& done = server.back();
  CHECK(done["event"] == "done");
  CHECK(done["cumulative_regret"].get<double>() == r->regret());
  CHECK(done["communication_cost"].get<double>() == r->communication_cost);
  CHECK(done["found_best"] == true);
  CHECK(done["step"] == 20000);

  const auto h0 = records(dir.path / "metrics" / "h0.jsonl");
  REQUIRE(!h0.empty());
  std::set<std::string> actors; // hosts 0 and 1 share node h0's file
  for (const auto& rec : h0) {
    actors.insert(rec["actor"].get<std::string>());
    CHECK(rec["role"] == "trainer");
  }
  CHECK(actors == std::set<std::string>{"trainer-0", "trainer-1"});
  // Host 2 (on h1) holds clients 2, 5, 8, ...: a third of M rounded down.
  const auto h1 = records(dir.path / "metrics" / "h1.jsonl");
  CHECK(h1.back()["event"] == "shutdown");
  CHECK(h1.back()["clients"] == r->clients / 3);
}

TEST_CASE("server and hosts as separate runs over ipc:// agree with the simulation", "[bandit][runner]") {
  const std::string algorithm = GENERATE("fed2_ucb", "ucb1");
  scratch_dir dir;
  const std::string ipc = "ipc://" + dir.path.string();
  const auto s = spec(fmt::format("    - {{name: srv, roles: [aggregator], endpoint: '{0}/srv'}}\n"
                                  "    - {{name: h0, roles: [trainer], endpoint: '{0}/h0', trainers: 2}}\n"
                                  "    - {{name: h1, roles: [trainer], endpoint: '{0}/h1'}}\n",
                                  ipc),
                      bandit_section(algorithm), dir);
  // The hosts start first; each run has its own ZeroMQ context, as separate processes would.
  auto hosts = std::async(std::launch::async, [&] { return run_bandit_nodes(s, {{"h1", "h0"}, nullptr, nullptr}); });
  std::ostringstream console;
  auto server = run_bandit_nodes(s, {{"srv"}, &console, nullptr});
  CHECK_FALSE(hosts.get().has_value());
  REQUIRE(server.has_value());
  CHECK(*server == simulate(s.bandit));
  CHECK(std::filesystem::exists(dir.path / "metrics" / "h1.jsonl"));
}

TEST_CASE("a host with different parameters is rejected and nobody waits forever", "[bandit][runner]") {
  scratch_dir dir;
  const std::string ipc = "ipc://" + dir.path.string();
  const std::string nodes = fmt::format("    - {{name: srv, roles: [aggregator], endpoint: '{0}/srv'}}\n"
                                        "    - {{name: h0, roles: [trainer], endpoint: '{0}/h0'}}\n",
                                        ipc);
  const std::string timing = "  connect_timeout_s: 1\n  heartbeat_s: 0.1\n";
  const auto ours = spec(nodes, bandit_section("fed2_ucb"), dir, timing);
  auto theirs = ours;
  theirs.bandit.seed = 99;
  auto host = std::async(std::launch::async, [&] { return run_bandit_nodes(theirs, {{"h0"}, nullptr, nullptr}); });
  // The rejected host tells the server why it stops, so the server fails with the reason too.
  CHECK_THROWS_WITH(run_bandit_nodes(ours, {{"srv"}, nullptr, nullptr}), Contains("bandit parameters differ"));
  CHECK_THROWS_WITH(host.get(), Contains("bandit parameters differ"));

  SECTION("a server without hosts and hosts without a server give up after connect_timeout_s") {
    CHECK_THROWS_WITH(run_bandit_nodes(ours, {{"srv"}, nullptr, nullptr}),
                      Contains("1 of 1 client hosts did not say hello"));
    CHECK_THROWS_WITH(run_bandit_nodes(ours, {{"h0"}, nullptr, nullptr}), Contains("did not answer within 1000 ms"));
  }
}

TEST_CASE("a stopped server tells hosts in other processes to stop cleanly", "[bandit][runner]") {
  scratch_dir dir;
  const std::string ipc = "ipc://" + dir.path.string();
  const auto s = spec(fmt::format("    - {{name: srv, roles: [aggregator], endpoint: '{0}/srv'}}\n"
                                  "    - {{name: h0, roles: [trainer], endpoint: '{0}/h0', trainers: 2}}\n",
                                  ipc),
                      bandit_section("fed2_ucb"), dir, "  connect_timeout_s: 5\n  heartbeat_s: 0.1\n");
  auto hosts = std::async(std::launch::async, [&] { return run_bandit_nodes(s, {{"h0"}, nullptr, nullptr}); });
  const std::atomic<bool> stop{true};
  CHECK_FALSE(run_bandit_nodes(s, {{"srv"}, nullptr, &stop}).has_value());
  CHECK_FALSE(hosts.get().has_value()); // no error: the hosts saw "stopped"
}

TEST_CASE("run_fed_bandit: exit codes, console lines and a stop request", "[bandit][runner]") {
  scratch_dir dir;
  auto s = spec("    - {name: main, roles: [aggregator, trainer], endpoint: 'inproc://main', trainers: 2}\n",
                bandit_section("fed2_ucb"), dir);
  s.console = true;
  std::ostringstream out;
  CHECK(run_fed_bandit(s, {"main"}, out) == 0);
  CHECK_THAT(out.str(), Contains("fed2_ucb done: T=20000"));
  CHECK_THAT(out.str(), Contains("eliminated"));
  CHECK(run_fed_bandit(s, {"nope"}, out) == 1);
  CHECK_THROWS_WITH(run_bandit_nodes(s, {{"nope"}, nullptr, nullptr}),
                    Contains("no node 'nope' in the cluster (nodes: main)"));

  const std::atomic<bool> stop{true};
  CHECK_FALSE(run_bandit_nodes(s, {{"main"}, nullptr, &stop}).has_value());
  CHECK(run_fed_bandit(s, {"main"}, out, &stop) == 0);
}
