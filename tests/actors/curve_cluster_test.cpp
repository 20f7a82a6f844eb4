// A whole cluster with CURVE on: the listed nodes train as usual, while a process without a listed
// key (or without CURVE) can neither push gradients nor read parameters, and is logged as refused.

#include "actors/node.hpp"

#include <regex>
#include <sstream>
#include <thread>

#include "config/job_fingerprint.hpp"
#include "config/topology.hpp"
#include "net/curve.hpp"
#include "net/van.hpp"
#include "ps/protocol.hpp"
#include "train/model_file.hpp"

#include "cluster_test_util.hpp"

using namespace troupe;

namespace {

/// A message as a peer could forge it: any type, any recipient, any meta.
net::message forged(net::msg_type t, const std::string& to, const nlohmann::json& meta) {
  net::message m(t);
  m.h.to = {to};
  m.h.meta = meta.dump();
  return m;
}

} // namespace
using namespace std::chrono_literals;

namespace {

/// topology_yaml with CURVE on: a key file per node under dir/keys, its public key listed.
std::string curve_topology(const test::cluster_case& c, const std::filesystem::path& dir,
                           std::map<std::string, net::curve_keypair>& keys) {
  std::filesystem::create_directories(dir / "keys");
  std::map<std::string, std::string> public_keys;
  std::vector<std::string> nodes{"agg", "loader"};
  for (std::size_t t = 0; t < c.trainers; ++t)
    nodes.push_back("t" + std::to_string(t));
  for (const auto& node : nodes) {
    keys[node] = net::generate_curve_keypair();
    net::write_key_file((dir / "keys" / (node + ".key")).string(), node, keys[node]);
    public_keys[node] = keys[node].public_key;
  }
  return test::with_curve(test::topology_yaml(c, dir), dir / "keys", public_keys);
}

} // namespace

TEST_CASE("with CURVE on, listed nodes train and an outsider is refused", "[actors][cluster][curve]") {
  test::scratch_dir dir("curve-cluster");
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 2;
  c.max_train = 1280;
  std::map<std::string, net::curve_keypair> keys;
  const auto topo = config::parse_topology(curve_topology(c, dir.path, keys), "test.yaml");
  REQUIRE(topo.cluster.security.curve);
  actors::run_options o;
  for (const auto& n : topo.cluster.nodes)
    o.nodes.push_back(n.name);
  std::ostringstream console;
  o.out = &console;
  int exit_code = -1;
  std::thread cluster([&] { exit_code = actors::run_nodes(topo, o); });

  // Outsiders: one with a key the topology does not list, one in plaintext. Both know every public
  // key and the cluster id, and both claim to be trainer t1.
  std::atomic<int> replies{0};
  auto outsider = [&](bool with_curve) {
    net::van_options vo;
    vo.node_name = "t1";
    vo.cluster_id = net::cluster_id_of(topo.cluster.id);
    if (with_curve) {
      vo.curve.enabled = true;
      vo.curve.own = net::generate_curve_keypair();
      for (const auto& [name, k] : keys)
        vo.curve.peers[name] = k.public_key;
    }
    auto v = std::make_unique<net::van>(vo);
    v->set_handler([&](net::message&&) { ++replies; });
    v->connect("agg", "ipc://" + (dir.path / "sockets" / "agg.sock").string());
    v->send("agg", forged(net::msg_type::hello, ps::aggregator_name, {{"rank", 1}}));
    auto grad = forged(net::msg_type::push_gradient, ps::aggregator_name,
                       {{"rank", 1}, {"loss_sum", 1.0}, {"n", 16}, {"correct1", 0}, {"correct5", 0}});
    grad.add_tensor("grad", {3}, std::vector<float>{1e9f, 1e9f, 1e9f});
    v->send("agg", std::move(grad));
    return v;
  };
  auto keyed = outsider(true);
  auto plain = outsider(false);

  cluster.join();
  keyed->stop();
  plain->stop();
  INFO(console.str());
  REQUIRE(exit_code == 0);
  CHECK(replies == 0); // neither outsider ever heard from the aggregator (no parameters, no welcome)
  double acc = -1;
  std::uint64_t unauthenticated = 0;
  nlohmann::json peers;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "agg.jsonl")) {
    if (rec.contains("test_acc"))
      acc = rec["test_acc"].get<double>();
    if (rec.value("actor", "") == "van" && rec.contains("rejected_by_reason"))
      unauthenticated = rec["rejected_by_reason"].value("unauthenticated", std::uint64_t{0});
    if (rec.value("actor", "") == "van" && rec.contains("peers"))
      peers = rec["peers"];
  }
  CHECK(unauthenticated >= 2); // the unlisted key (ZAP) and the plaintext handshake
  // Per peer: the outsiders' refusals under "(unknown)" (no name is vouched for), none under a node.
  INFO(peers.dump());
  REQUIRE(peers.contains("(unknown)"));
  CHECK(peers["(unknown)"]["rejected"].get<std::uint64_t>() == unauthenticated);
  REQUIRE(peers.contains("t0"));
  CHECK(peers["t0"]["rejected"] == 0);
  CHECK(peers["t0"]["messages_received"].get<std::uint64_t>() > 0);
  REQUIRE(acc > 0.3);
}

TEST_CASE("a node whose key file does not match its listed public key does not start", "[actors][cluster][curve]") {
  test::scratch_dir dir("curve-mismatch");
  test::cluster_case c;
  c.transport = "ipc";
  std::map<std::string, net::curve_keypair> keys;
  const auto topo = config::parse_topology(curve_topology(c, dir.path, keys), "test.yaml");
  net::write_key_file((dir.path / "keys" / "t0.key").string(), "t0", net::generate_curve_keypair(), true);
  actors::run_options o;
  o.nodes = {"t0"};
  std::ostringstream console;
  o.out = &console;
  CHECK_THROWS_WITH(actors::run_nodes(topo, o),
                    Catch::Contains("node 't0' lists public_key " + keys["t0"].public_key) &&
                        Catch::Contains("t0.key holds the key pair of"));
}

TEST_CASE("a listed key pushing for another node's trainer is refused and logged; the bsp run ends bit-identical",
          "[actors][cluster][curve][faults]") {
  // Three trainer nodes; t2 is played by the test: it holds t2's listed key, says hello as
  // trainer 2 (its own), then - in the attacked run - pushes gradients as trainer 0 (t0's) and
  // goes silent. Under on_trainer_loss: shrink, t0 and t1 finish the job without it either way,
  // so both runs must end with bitwise the same parameters.
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 3;
  c.max_train = 960;
  c.max_test = 100;
  auto run = [&](bool forge, std::string& console_out, std::vector<nlohmann::json>& records) {
    test::scratch_dir dir("curve-impostor");
    std::map<std::string, net::curve_keypair> keys;
    const auto topo =
        config::parse_topology(curve_topology(c, dir.path, keys), "test.yaml", {{"job.on_trainer_loss", "shrink"}});
    actors::run_options o;
    o.nodes = {"agg", "loader", "t0", "t1"};
    std::ostringstream console;
    o.out = &console;
    int exit_code = -1;
    std::thread cluster([&] { exit_code = actors::run_nodes(topo, o); });
    net::van_options vo;
    vo.node_name = "t2";
    vo.cluster_id = net::cluster_id_of(topo.cluster.id);
    vo.curve.enabled = true;
    vo.curve.own = keys["t2"];
    for (const auto& [name, k] : keys)
      vo.curve.peers[name] = k.public_key;
    {
      net::van t2(vo);
      t2.connect("agg", "ipc://" + (dir.path / "sockets" / "agg.sock").string());
      t2.send("agg",
              ps::encode(ps::hello{2, config::fingerprint_of(topo, config::load_job_model(topo)).to_wire(), false},
                         ps::aggregator_name));
      for (std::uint64_t clock = 0; forge && clock < 20; ++clock) {
        ps::push p;
        p.rank = 0;
        p.clock = clock;
        p.n = 16;
        p.grad.shared = std::make_shared<const std::vector<float>>(225034, 1e3f);
        t2.send("agg", ps::encode(p));
      }
      std::this_thread::sleep_for(500ms);
    }
    cluster.join();
    console_out = console.str();
    records = test::read_records(dir.path / "metrics" / "agg.jsonl");
    REQUIRE(exit_code == 0);
    return train::load_model((dir.path / "checkpoints" / "model_final.trpm").string()).params;
  };
  std::string clean_console, attacked_console;
  std::vector<nlohmann::json> clean_records, attacked_records;
  const auto clean = run(false, clean_console, clean_records);
  const auto attacked = run(true, attacked_console, attacked_records);
  INFO(attacked_console);
  std::size_t refused = 0;
  for (const auto& rec : attacked_records)
    if (rec.value("event", "") == "refused" && rec["reason"] == "unauthorized") {
      CHECK(rec["target"] == "trainer-0");
      CHECK(rec["from"] == "t2");
      ++refused;
    }
  CHECK(refused >= 1);
  REQUIRE(clean.size() == attacked.size());
  CHECK(clean == attacked); // bitwise: not one forged gradient was applied
}
