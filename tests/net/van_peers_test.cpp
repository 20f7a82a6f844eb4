// The van's figures per peer (net/peer_table.hpp): bytes and messages both ways, refusals under
// the name the transport vouches for, a bounded table, and the round trip of its ping/pong probes.

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "net/van.hpp"
#include "tests/support/fault_proxy.hpp"

#include "net_test_util.hpp"

using namespace troupe;
using namespace troupe::net;
using namespace std::chrono_literals;

namespace {

/// Polls `done` every 10 ms for up to 20 s (the figures are updated on the vans' I/O threads).
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 2000; ++i) {
    if (done())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

peer_stats sum(const std::map<std::string, peer_stats>& peers) {
  peer_stats s;
  for (const auto& [name, p] : peers) {
    s.messages_sent += p.messages_sent;
    s.bytes_sent += p.bytes_sent;
    s.messages_received += p.messages_received;
    s.bytes_received += p.bytes_received;
    s.rejected += p.rejected;
    s.send_failures += p.send_failures;
  }
  return s;
}

/// A raw DEALER calling itself `id`, connected to `endpoint`.
zmq::socket_t raw_dealer(const context& ctx, const std::string& id, const std::string& endpoint) {
  zmq::socket_t s(ctx.native(), zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::routing_id, id);
  s.connect(endpoint);
  return s;
}

void send_frames(zmq::socket_t& s, const std::vector<payload>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i)
    REQUIRE(s.send(zmq::buffer(frames[i].data(), frames[i].size()),
                   i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none));
}

/// A valid message from node `sender` of cluster "test", as a peer's van would encode it.
std::vector<payload> valid_from(const std::string& sender) {
  message m(msg_type::heartbeat);
  m.h.cluster_id = cluster_id_of("test");
  m.h.sender = sender;
  m.h.to = {"x"};
  return encode(m);
}

} // namespace

TEST_CASE("a van counts bytes and messages per peer, and they add up to its totals", "[net][van][peers]") {
  const std::string transport = GENERATE("inproc", "tcp");
  INFO(transport);
  auto ctx = context::create();
  van a(net::test::options("a", ctx)), b(net::test::options("b", ctx)), c(net::test::options("c", ctx));
  net::test::inbox a_in, b_in, c_in;
  a.set_handler(a_in.handler());
  b.set_handler(b_in.handler());
  c.set_handler(c_in.handler());
  const auto ep = a.bind(net::test::bind_endpoint(transport));
  b.connect("a", ep);
  c.connect("a", ep);
  for (int i = 0; i < 3; ++i)
    b.send("a", message(msg_type::heartbeat));
  for (int i = 0; i < 5; ++i) {
    message m(msg_type::push_gradient);
    m.add_tensor("g", {1000}, net::test::ramp(1000)); // c sends far more bytes than b
    c.send("a", std::move(m));
  }
  for (int i = 0; i < 8; ++i)
    REQUIRE(a_in.pop());
  a.send("b", message(msg_type::welcome));
  a.send("b", message(msg_type::welcome));
  REQUIRE(b_in.pop());
  REQUIRE(b_in.pop());

  // A sender counts a message once ZeroMQ took its last frame, on its I/O thread, and the peer may
  // already hold it by then: wait (bounded) until every sender has counted what was received.
  auto sent_to = [](const van& v, const std::string& peer) {
    const auto s = v.counters();
    const auto it = s.peers.find(peer);
    return it == s.peers.end() ? std::uint64_t{0} : it->second.messages_sent;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((sent_to(a, "b") < 2 || sent_to(b, "a") < 3 || sent_to(c, "a") < 5) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto sa = a.counters(), sb = b.counters(), sc = c.counters();
  REQUIRE(sa.peers.size() == 2);
  CHECK(sa.peers.at("b").messages_received == 3);
  CHECK(sa.peers.at("c").messages_received == 5);
  CHECK(sa.peers.at("b").messages_sent == 2);
  CHECK(sa.peers.at("c").messages_sent == 0);
  // What one side sent to the other is what the other received from it, byte for byte; a's ROUTER
  // also counts the routing-id frame ("b", "c": one byte) in front of each message.
  CHECK(sa.peers.at("b").bytes_received == sb.peers.at("a").bytes_sent + 3);
  CHECK(sa.peers.at("c").bytes_received == sc.peers.at("a").bytes_sent + 5);
  CHECK(sa.peers.at("b").bytes_sent == sb.peers.at("a").bytes_received);
  CHECK(sa.peers.at("c").bytes_received > 5 * 4000);
  CHECK(sa.peers.at("b").bytes_received < 1000);
  // The peers add up to the totals.
  const auto all = sum(sa.peers);
  CHECK(all.messages_received == sa.messages_received);
  CHECK(all.bytes_received == sa.bytes_received);
  CHECK(all.messages_sent == sa.messages_sent);
  CHECK(all.bytes_sent == sa.bytes_sent);
}

TEST_CASE("refusals count under the name the transport vouches for, unauthenticated ones under (unknown)",
          "[net][van][peers]") {
  auto ctx = context::create();
  auto bo = net::test::options("b", ctx);
  bo.known_peers = {"a", "b"};
  van b(bo);
  net::test::inbox b_in;
  b.set_handler(b_in.handler());
  const auto ep = b.bind(net::test::bind_endpoint("tcp"));

  van stranger(net::test::options("stranger", ctx));
  stranger.connect("b", ep);
  stranger.send("b", message(msg_type::heartbeat));
  stranger.send("b", message(msg_type::heartbeat));
  // A node of the cluster (plaintext: its routing id is its name) sends garbage, then a valid message.
  auto a = raw_dealer(ctx, "a", ep);
  REQUIRE(a.send(zmq::str_buffer("GET / HTTP/1.1"), zmq::send_flags::none));
  send_frames(a, valid_from("a"));
  REQUIRE(b_in.pop());
  REQUIRE(eventually([&] { return b.counters().rejected == 3; }));

  const auto s = b.counters();
  REQUIRE(s.peers.count("a") == 1);
  CHECK(s.peers.at("a").rejected == 1);
  CHECK(s.peers.at("a").messages_received == 1);
  REQUIRE(s.peers.count(unknown_peer) == 1);
  CHECK(s.peers.at(unknown_peer).rejected == 2);
  CHECK(s.peers.count("stranger") == 0); // a name nobody vouches for gets no entry
  CHECK(sum(s.peers).rejected == s.rejected);
}

TEST_CASE("made-up routing ids cannot grow the per-peer table past its bound", "[net][van][peers]") {
  auto ctx = context::create();
  auto bo = net::test::options("b", ctx);
  bo.max_peer_entries = 3; // no known_peers: every routing id is taken at its word, up to the bound
  van b(bo);
  net::test::inbox b_in;
  b.set_handler(b_in.handler());
  const auto ep = b.bind(net::test::bind_endpoint("inproc"));
  std::vector<zmq::socket_t> peers;
  for (int i = 0; i < 10; ++i) {
    peers.push_back(raw_dealer(ctx, "p" + std::to_string(i), ep));
    send_frames(peers.back(), valid_from("p" + std::to_string(i)));
  }
  for (int i = 0; i < 10; ++i)
    REQUIRE(b_in.pop());
  const auto s = b.counters();
  CHECK(s.peers.size() == 4); // three named entries and the unknown bucket
  REQUIRE(s.peers.count(unknown_peer) == 1);
  CHECK(s.peers.at(unknown_peer).messages_received == 7);
  CHECK(sum(s.peers).messages_received == 10);
  CHECK(sum(s.peers).bytes_received == s.bytes_received);
}

TEST_CASE("a van measures the round trip to each peer, and a delayed link shows a longer one",
          "[net][van][peers][probe]") {
  auto ctx = context::create();
  van a(net::test::options("a", ctx)), b(net::test::options("b", ctx)), c(net::test::options("c", ctx));
  net::test::inbox a_in, b_in, c_in;
  a.set_handler(a_in.handler());
  b.set_handler(b_in.handler());
  c.set_handler(c_in.handler());
  // a reaches b through a proxy that holds every chunk 60 ms each way, and c directly.
  troupe::test::fault_proxy proxy;
  proxy.delay(60ms, 0ms);
  a.connect("b", proxy.add_route(b.bind("tcp://127.0.0.1:*")));
  a.connect("c", c.bind("tcp://127.0.0.1:*"));
  CHECK_FALSE(a.probe("nobody")); // no route: nothing sent, nothing thrown

  // Probe both until each has three samples (one probe per peer is outstanding at a time).
  const auto samples = [&](const char* peer) {
    const auto s = a.counters();
    return s.peers.count(peer) != 0 ? s.peers.at(peer).rtt_samples : 0;
  };
  REQUIRE(eventually([&] {
    a.probe("b");
    a.probe("c");
    return samples("b") >= 3 && samples("c") >= 3;
  }));
  const auto s = a.counters();
  const auto& slow = s.peers.at("b");
  const auto& fast = s.peers.at("c");
  CAPTURE(slow.rtt_s, slow.rtt_min_s, fast.rtt_s, fast.rtt_min_s);
  CHECK(slow.rtt_min_s >= 0.120); // the proxy held the ping and the pong 60 ms each
  CHECK(fast.rtt_min_s < slow.rtt_min_s / 2);
  CHECK(slow.rtt_s > fast.rtt_s);
  CHECK(slow.rtt_last_s >= 0.120);
  // Probes are the vans' own business: no handler saw one; the peers counted them as received.
  CHECK_FALSE(b_in.pop(50ms));
  CHECK_FALSE(c_in.pop(10ms));
  CHECK(b.counters().peers.at("a").messages_received >= 3);
  CHECK(s.peers.at("c").messages_sent >= 3);
}
