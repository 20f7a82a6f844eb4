/// CURVE on the van: listed keys talk, everyone else is refused and logged; key files; flood limits.

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.hpp>

#include "common/error.hpp"
#include "net/curve.hpp"
#include "net/van.hpp"

#include "net_test_util.hpp"

using namespace troupe;
using namespace troupe::net;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// Rejections reported through van_options::on_reject, from any thread.
struct rejection_log {
  std::mutex mu;
  std::vector<std::pair<std::string, decode_error>> seen;
  test::counter n;
  std::function<void(const std::string&, const decode_error&)> callback() {
    return [this](const std::string& peer, const decode_error& e) {
      {
        std::lock_guard<std::mutex> lk(mu);
        seen.emplace_back(peer, e);
      }
      n.bump();
    };
  }
  std::string all() {
    std::lock_guard<std::mutex> lk(mu);
    std::string out;
    for (const auto& [peer, e] : seen)
      out += fmt::format("[{}] {}: {}\n", peer, to_string(e.code), e.detail);
    return out;
  }
};

van_options curve_node(const std::string& name, const context& ctx, const curve_keypair& own,
                       std::map<std::string, std::string> peers) {
  auto o = test::options(name, ctx);
  o.curve.enabled = true;
  o.curve.own = own;
  o.curve.peers = std::move(peers);
  return o;
}

message ping(float v) {
  message m(msg_type::push_gradient);
  m.h.clock = 3;
  m.add_tensor("g", {4}, std::vector<float>{v, v, v, v});
  return m;
}

fs::path temp_dir(const std::string& tag) {
  auto d = fs::temp_directory_path() / fmt::format("troupe-curve-{}-{}", tag, ::getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

} // namespace

TEST_CASE("CURVE key pairs are Z85 keys whose public half derives from the secret", "[net][curve]") {
  REQUIRE(curve_available());
  const auto k = generate_curve_keypair();
  CHECK(is_curve_key(k.public_key));
  CHECK(is_curve_key(k.secret_key));
  CHECK(curve_public_of(k.secret_key) == k.public_key);
  CHECK(generate_curve_keypair().secret_key != k.secret_key);
  CHECK_FALSE(is_curve_key("short"));
  CHECK_FALSE(is_curve_key(std::string(40, ' ')));
}

TEST_CASE("key files are written 0600, read back, and refused when readable by others or damaged", "[net][curve]") {
  const auto dir = temp_dir("keyfile");
  const auto path = (dir / "trainer-0.key").string();
  const auto k = generate_curve_keypair();
  write_key_file(path, "trainer-0", k);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const auto back = read_key_file(path);
  CHECK(back.public_key == k.public_key);
  CHECK(back.secret_key == k.secret_key);

  // No silent replacement of a secret key.
  CHECK_THROWS_WITH(write_key_file(path, "trainer-0", generate_curve_keypair()),
                    Catch::Contains("a key file already exists") && Catch::Contains(path));
  CHECK(read_key_file(path).secret_key == k.secret_key);
  write_key_file(path, "trainer-0", generate_curve_keypair(), /*overwrite=*/true);
  CHECK(read_key_file(path).secret_key != k.secret_key);

  ::chmod(path.c_str(), 0644);
  CHECK_THROWS_WITH(read_key_file(path),
                    Catch::Contains("mode 0644 lets other users read the secret key") && Catch::Contains("chmod 600"));
  ::chmod(path.c_str(), 0600);

  {
    std::ofstream out(path, std::ios::app);
    out << "public-key = \"" << generate_curve_keypair().public_key << "\"\n";
  }
  CHECK_THROWS_WITH(read_key_file(path), Catch::Contains("does not belong to its secret-key"));
  {
    std::ofstream out(path, std::ios::trunc);
    out << "node = \"x\"\nsecret-key = \"tooshort\"\n";
  }
  CHECK_THROWS_WITH(read_key_file(path), Catch::Contains(path + ":2") && Catch::Contains("not a 40-character"));
  CHECK_THROWS_WITH(read_key_file((dir / "missing.key").string()), Catch::Contains("troupe-node keygen"));
  fs::remove_all(dir);
}

TEST_CASE("vans with listed keys talk over CURVE, both ways, on tcp and ipc", "[net][curve]") {
  const std::string transport = GENERATE("tcp", "ipc");
  INFO(transport);
  auto ctx = context::create();
  const auto ka = generate_curve_keypair(), kb = generate_curve_keypair();
  const std::map<std::string, std::string> keys{{"a", ka.public_key}, {"b", kb.public_key}};
  test::inbox a_in, b_in;
  van b(curve_node("b", ctx, kb, keys));
  van a(curve_node("a", ctx, ka, keys));
  a.set_handler(a_in.handler());
  b.set_handler(b_in.handler());
  a.connect("b", b.bind(test::bind_endpoint(transport)));
  a.send("b", ping(1.5f));
  auto got = b_in.pop();
  REQUIRE(got);
  CHECK(got->h.sender == "a");
  CHECK(got->view<float>(0)[3] == 1.5f);
  b.send("a", ping(2.5f));
  auto back = a_in.pop();
  REQUIRE(back);
  CHECK(back->view<float>(0)[0] == 2.5f);
  CHECK(b.counters().rejected == 0);
}

TEST_CASE("a CURVE node refuses an unknown key, a plaintext peer and a key claiming another name", "[net][curve]") {
  auto ctx = context::create();
  const auto kserver = generate_curve_keypair(), kgood = generate_curve_keypair(), kstranger = generate_curve_keypair();
  const std::map<std::string, std::string> listed{{"server", kserver.public_key}, {"good", kgood.public_key}};
  rejection_log log;
  test::inbox server_in;
  auto so = curve_node("server", ctx, kserver, listed);
  so.on_reject = log.callback();
  van server(so);
  server.set_handler(server_in.handler());
  const auto ep = server.bind("tcp://127.0.0.1:*");

  SECTION("a key that is not in the topology") {
    van stranger(curve_node("stranger", ctx, kstranger, {{"server", kserver.public_key}}));
    stranger.connect("server", ep);
    stranger.send("server", ping(9));
    REQUIRE(log.n.wait_for(1));
    CHECK_THAT(log.all(), Catch::Contains("unauthenticated") && Catch::Contains(kstranger.public_key) &&
                              Catch::Contains("is not listed in the cluster's topology"));
  }
  SECTION("a plaintext peer") {
    van plain(test::options("plain", ctx));
    plain.connect("server", ep);
    plain.send("server", ping(9));
    REQUIRE(log.n.wait_for(1));
    CHECK_THAT(log.all(), Catch::Contains("unauthenticated") && Catch::Contains("handshake"));
  }
  SECTION("a listed key used under another node's name") {
    // "good" holds a valid key but says it is "server-admin": the key decides who it is.
    auto o = curve_node("impostor", ctx, kgood, {{"server", kserver.public_key}});
    van impostor(o);
    impostor.connect("server", ep);
    impostor.send("server", ping(9));
    REQUIRE(log.n.wait_for(1));
    CHECK_THAT(log.all(), Catch::Contains("calls itself 'impostor' but holds the key of node 'good'"));
  }
  SECTION("a client that expects another server key talks to no one") {
    van wrong(curve_node("good", ctx, kgood, {{"server", kstranger.public_key}}));
    wrong.connect("server", ep);
    wrong.send("server", ping(9));
    REQUIRE(log.n.wait_for(1));
    CHECK_THAT(log.all(), Catch::Contains("handshake"));
  }
  // Nothing from any of them reached the handler, and the server still serves listed peers.
  CHECK_FALSE(server_in.pop(300ms));
  van good(curve_node("good", ctx, kgood, {{"server", kserver.public_key}}));
  good.connect("server", ep);
  good.send("server", ping(4));
  auto got = server_in.pop();
  REQUIRE(got);
  CHECK(got->h.sender == "good");
  CHECK(server.counters().messages_received == 1);
  CHECK(server.counters().rejected_by_reason[decode_error::unauthenticated] >= 1);
}

TEST_CASE("CURVE is refused without a valid key pair, and a peer without a listed key cannot be reached",
          "[net][curve]") {
  auto ctx = context::create();
  const auto k = generate_curve_keypair();
  auto o = curve_node("x", ctx, {k.public_key, generate_curve_keypair().secret_key}, {});
  CHECK_THROWS_WITH(van(o), Catch::Contains("public key does not belong to its secret key"));
  van x(curve_node("x", ctx, k, {}));
  CHECK_THROWS_WITH(x.connect("y", "tcp://127.0.0.1:1"), Catch::Contains("no public key is known for peer 'y'"));
}

TEST_CASE("a peer whose unprocessed messages pass max_peer_inflight_bytes is refused as flooding", "[net][limits]") {
  auto ctx = context::create();
  rejection_log log;
  auto so = test::options("server", ctx);
  so.max_peer_inflight_bytes = 64 * 1024; // 16k floats
  so.on_reject = log.callback();
  van server(so);
  std::mutex mu;
  std::vector<message> held; // a slow consumer: keeps every message (and so its frames) alive
  test::counter got;
  server.set_handler([&](message&& m) {
    {
      std::lock_guard<std::mutex> lk(mu);
      held.push_back(std::move(m));
    }
    got.bump();
  });
  // Whole, or in 4 kB pieces: an assembled tensor keeps counting against its sender like its frames.
  auto co = test::options("client", ctx);
  co.piece_bytes = GENERATE(std::size_t{0}, std::size_t{4096});
  co.whole_up_to = 0;
  INFO("piece_bytes " << co.piece_bytes);
  van client(co);
  client.connect("server", server.bind("tcp://127.0.0.1:*"));
  auto big = [] {
    message m(msg_type::push_gradient);
    m.add_tensor("g", {5000}, test::ramp(5000)); // 20 kB
    return m;
  };
  for (int i = 0; i < 6; ++i)
    client.send("server", big());
  REQUIRE(log.n.wait_for(3));
  CHECK(got.wait_for(3));
  {
    std::lock_guard<std::mutex> lk(mu);
    CHECK(held.size() == 3); // 3 × 20 kB fit under 64 kB, the 4th would not
  }
  CHECK_THAT(log.all(), Catch::Contains("flooding") && Catch::Contains("max_peer_inflight_bytes"));
  CHECK(server.counters().rejected_by_reason[decode_error::flooding] == 3);
  // Once the consumer releases them, the same peer is served again.
  {
    std::lock_guard<std::mutex> lk(mu);
    held.clear();
  }
  client.send("server", big());
  CHECK(got.wait_for(4));
}
