// The bandit on the shared runtime: CURVE from cluster.security, the router's and the server's
// refusals (counted in the transport record), and failures that end the run instead of hanging.

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "bandit/protocol.hpp"
#include "bandit/runner.hpp"
#include "bandit/simulation.hpp"
#include "common/error.hpp"
#include "net/curve.hpp"
#include "net/van.hpp"

using namespace troupe;
using namespace troupe::bandit;
using Catch::Contains;

namespace {

using steady = std::chrono::steady_clock;

/// A fresh directory only its owner can enter (ipc:// sockets may listen there in plaintext).
struct private_dir {
  std::filesystem::path path;
  private_dir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() / fmt::format("troupe-bandit-rt-{}-{}", ::getpid(), counter++);
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
  }
  ~private_dir() { std::filesystem::remove_all(path); }
};

const std::string fed2_section =
    "bandit:\n  algorithm: fed2_ucb\n"
    "  means: [0.70, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.765, 0.77, 0.79]\n"
    "  sigma: 0.5\n  T: 20000\n  seed: 5\n  sigma_c: 0.02\n  kappa: 50\n  c1: 1\n  c2: 1\n";

config::bandit_spec spec(const std::string& cluster_extra, const std::string& nodes, const private_dir& dir) {
  const std::string yaml = "cluster:\n  id: brt\n" + cluster_extra + "  nodes:\n" + nodes + fed2_section +
                           "metrics: {dir: '" + (dir.path / "metrics").string() + "', console: false}\n";
  return config::parse_bandit_spec(yaml, "brt.yaml");
}

std::vector<nlohmann::json> records(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);)
    out.push_back(nlohmann::json::parse(line));
  return out;
}

/// A van of the cluster `brt` called `name`, connected to `peer` at `endpoint` (plaintext).
std::unique_ptr<net::van> impostor(const std::string& name, const std::string& peer, const std::string& endpoint) {
  net::van_options vo;
  vo.node_name = name;
  vo.cluster_id = net::cluster_id_of("brt");
  auto v = std::make_unique<net::van>(vo);
  v->connect(peer, endpoint);
  return v;
}

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

} // namespace

TEST_CASE("a bandit run with CURVE on gives the plaintext run's regret", "[bandit][runtime][curve]") {
  private_dir dir;
  const std::vector<std::string> names = {"srv", "h0", "h1"};
  std::map<std::string, net::curve_keypair> keys;
  std::filesystem::create_directories(dir.path / "keys");
  for (const auto& n : names) {
    keys[n] = net::generate_curve_keypair();
    net::write_key_file((dir.path / "keys" / (n + ".key")).string(), n, keys[n]);
  }
  const auto nodes = [&](bool curve) {
    const auto key = [&](const std::string& n) {
      return curve ? fmt::format(", public_key: \"{}\"", keys[n].public_key) : "";
    };
    return fmt::format("    - {{name: srv, roles: [aggregator], endpoint: 'tcp://127.0.0.1:*'{}}}\n"
                       "    - {{name: h0, roles: [trainer], endpoint: 'tcp://127.0.0.1:*', trainers: 2{}}}\n"
                       "    - {{name: h1, roles: [trainer], endpoint: 'tcp://127.0.0.1:*'{}}}\n",
                       key("srv"), key("h0"), key("h1"));
  };
  const auto curve =
      spec(fmt::format("  security: {{curve: on, key_dir: '{}'}}\n", (dir.path / "keys").string()), nodes(true), dir);
  REQUIRE(curve.cluster.security.curve);
  const auto plain = spec("", nodes(false), dir);
  REQUIRE_FALSE(plain.cluster.security.curve);

  const auto encrypted = run_bandit_nodes(curve, {names, nullptr, nullptr});
  const auto clear = run_bandit_nodes(plain, {names, nullptr, nullptr});
  REQUIRE(encrypted.has_value());
  REQUIRE(clear.has_value());
  CHECK(encrypted->regret() == clear->regret());
  CHECK(*encrypted == *clear);
  CHECK(*encrypted == simulate(curve.bandit));

  SECTION("the van really runs CURVE: a key file that does not match the listed key stops the node") {
    net::write_key_file((dir.path / "keys" / "h1.key").string(), "h1", net::generate_curve_keypair(), true);
    CHECK_THROWS_WITH(run_bandit_nodes(curve, {names, nullptr, nullptr}),
                      Contains("node 'h1' lists public_key") && Contains("h1.key holds the key pair of"));
  }
}

TEST_CASE("messages for actors a node does not run, or claiming another node's host, are refused and counted",
          "[bandit][runtime][hostile]") {
  private_dir dir;
  const std::string ipc = "ipc://" + (dir.path / "sockets").string();
  const auto s = spec("  connect_timeout_s: 20\n  heartbeat_s: 0.2\n",
                      fmt::format("    - {{name: srv, roles: [aggregator], endpoint: '{0}/srv'}}\n"
                                  "    - {{name: h0, roles: [trainer], endpoint: '{0}/h0'}}\n"
                                  "    - {{name: h1, roles: [trainer], endpoint: '{0}/h1'}}\n",
                                  ipc),
                      dir);
  auto main = std::async(std::launch::async, [&] { return run_bandit_nodes(s, {{"srv", "h0"}, nullptr, nullptr}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // srv is bound
  {
    // Node h1 of the cluster (not started yet) played by the test: a message for a client host that
    // runs on h0, not on srv; a hello as host 0 (h0's) with the right digest; a reject as if a host failed.
    auto h1 = impostor("h1", "srv", ipc + "/srv");
    auto to_host0 = make_message(net::msg_type::hello, host_actor(0), {{"rank", 0}});
    h1->send("srv", std::move(to_host0));
    h1->send("srv", encode(hello_msg{0, digest(s.bandit, 2)}));
    h1->send("srv", encode(hello_msg{7, digest(s.bandit, 2)}));
    // And a stranger: a node name the cluster does not list.
    auto mallory = impostor("mallory", "srv", ipc + "/srv");
    mallory->send("srv", encode(hello_msg{1, digest(s.bandit, 2)}));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    h1->stop();
    mallory->stop();
  }
  const auto late = run_bandit_nodes(s, {{"h1"}, nullptr, nullptr}); // the real h1 joins; the run goes on
  CHECK_FALSE(late.has_value());
  const auto r = main.get();
  REQUIRE(r.has_value());
  CHECK(*r == simulate(s.bandit));

  nlohmann::json transport;
  for (const auto& rec : records(dir.path / "metrics" / "srv.jsonl"))
    if (rec.value("role", "") == "transport")
      transport = rec;
  INFO(transport.dump());
  REQUIRE(transport.is_object());
  CHECK(transport["routed"]["refused_unknown_actor"].get<int>() >= 1);
  CHECK(transport["routed"]["refused_unauthorized"].get<int>() >= 1);
  CHECK(transport["rejected_by_reason"]["unauthenticated"].get<int>() >= 1);
  // h0 was not disturbed: its log holds only the run's records (and how the node ended).
  for (const auto& rec : records(dir.path / "metrics" / "h0.jsonl"))
    CHECK((rec["role"] == "trainer" || (rec["event"] == "node_exit" && rec["outcome"] == "done")));
}

TEST_CASE("an exception in a client host ends the run with an error naming it, without waiting for timeouts",
          "[bandit][runtime][faults]") {
  private_dir dir;
  SECTION("all nodes in one process") {
    const auto s =
        spec("", "    - {name: main, roles: [aggregator, trainer], endpoint: 'inproc://main', trainers: 3}\n", dir);
    const auto t0 = steady::now();
    CHECK_THROWS_WITH(run_bandit_nodes(s, {{"main"}, nullptr, nullptr}, {{{1, 2}}}),
                      Contains("trainer-1") && Contains("injected failure at phase 2"));
    CHECK(seconds_since(t0) < 10);
    bool escalation = false;
    for (const auto& rec : records(dir.path / "metrics" / "main.jsonl"))
      if (rec.value("event", "") == "escalation" && rec["target"] == "trainer-1")
        escalation = rec["reason"].get<std::string>().find("injected failure") != std::string::npos;
    CHECK(escalation);
  }
  SECTION("the failing host in another process than the server") {
    const std::string ipc = "ipc://" + (dir.path / "sockets").string();
    const auto s = spec("",
                        fmt::format("    - {{name: srv, roles: [aggregator], endpoint: '{0}/srv'}}\n"
                                    "    - {{name: h0, roles: [trainer], endpoint: '{0}/h0', trainers: 2}}\n",
                                    ipc),
                        dir);
    const auto t0 = steady::now();
    auto hosts = std::async(std::launch::async, [&] {
      return run_bandit_nodes(s, {{"h0"}, nullptr, nullptr}, {{{0, 3}}});
    });
    CHECK_THROWS_WITH(run_bandit_nodes(s, {{"srv"}, nullptr, nullptr}),
                      Contains("trainer-0") && Contains("injected failure at phase 3"));
    CHECK_THROWS_WITH(hosts.get(), Contains("trainer-0") && Contains("injected failure at phase 3"));
    CHECK(seconds_since(t0) < 10);
  }
}

TEST_CASE("a host node that goes silent is lost after cluster.failure_timeout_s", "[bandit][runtime][faults]") {
  private_dir dir;
  const std::string ipc = "ipc://" + (dir.path / "sockets").string();
  const auto s = spec("  heartbeat_s: 0.2\n  failure_timeout_s: 1\n  connect_timeout_s: 20\n",
                      fmt::format("    - {{name: srv, roles: [aggregator], endpoint: '{0}/srv'}}\n"
                                  "    - {{name: h0, roles: [trainer], endpoint: '{0}/h0'}}\n",
                                  ipc),
                      dir);
  const auto t0 = steady::now();
  auto server = std::async(std::launch::async, [&] { return run_bandit_nodes(s, {{"srv"}, nullptr, nullptr}); });
  // h0 says hello, then dies: no upload, no heartbeat (connect_timeout_s and the silence limit are 20 s and more).
  auto h0 = impostor("h0", "srv", ipc + "/srv");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  h0->send("srv", encode(hello_msg{0, digest(s.bandit, 1)}));
  CHECK_THROWS_WITH(server.get(), Contains("client host node 'h0' sent nothing") && Contains("failure_timeout_s"));
  CHECK(seconds_since(t0) < 8);
  h0->stop();
}
