#include "net/van.hpp"

#include <thread>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "common/error.hpp"

#include "net_test_util.hpp"

using namespace troupe;
using namespace troupe::net;
using namespace std::chrono_literals;

namespace {

/// Two vans, "a" connected to "b", each collecting what it receives.
struct pair_fixture {
  explicit pair_fixture(const std::string& transport, const std::string& cluster_a = "test")
      : ctx(context::create()), a(test::options("a", ctx, cluster_a)), b(test::options("b", ctx)) {
    a.set_handler(a_in.handler());
    b.set_handler(b_in.handler());
    endpoint = b.bind(test::bind_endpoint(transport));
    a.connect("b", endpoint);
  }
  context ctx;
  test::inbox a_in, b_in;
  van a, b;
  std::string endpoint;
};

} // namespace

TEST_CASE("two vans exchange messages both ways", "[net][van]") {
  const std::string transport = GENERATE("inproc", "tcp", "ipc");
  INFO(transport);
  pair_fixture f(transport);
  if (transport == "tcp")
    CHECK_THAT(f.endpoint, Catch::Matches(R"(tcp://127\.0\.0\.1:\d+)"));

  message hello(msg_type::hello);
  hello.h.meta = R"({"role": "trainer"})";
  hello.add_tensor("w", {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  hello.add_tensor("ids", {2}, std::vector<std::int32_t>{-1, 7});
  CHECK_FALSE(f.b.has_route("a"));
  f.a.send("b", hello); // DEALER -> ROUTER

  auto got = f.b_in.pop();
  REQUIRE(got);
  CHECK(got->h.type == msg_type::hello);
  CHECK(got->h.sender == "a");
  CHECK(got->h.cluster_id == cluster_id_of("test"));
  CHECK(got->h.seq == 1);
  CHECK(got->h.meta == hello.h.meta);
  CHECK(got->view<float>(0)[5] == 6.0f);
  CHECK(got->view<std::int32_t>(1)[0] == -1);
  CHECK(f.b.has_route("a"));

  message welcome(msg_type::welcome);
  welcome.h.step = 99;
  welcome.add_tensor("mask", {3}, std::vector<std::uint8_t>{1, 0, 1});
  f.b.send("a", welcome); // ROUTER -> the DEALER that announced itself as "a"

  auto back = f.a_in.pop();
  REQUIRE(back);
  CHECK(back->h.type == msg_type::welcome);
  CHECK(back->h.sender == "b");
  CHECK(back->h.step == 99);
  CHECK(back->view<std::uint8_t>(0)[2] == 1);

  f.a.stop(); // joins the I/O threads, so the counters are final
  f.b.stop();
  const auto sa = f.a.counters();
  const auto sb = f.b.counters();
  CHECK(sa.messages_sent == 1);
  CHECK(sa.messages_received == 1);
  CHECK(sb.messages_received == 1);
  CHECK(sb.messages_sent == 1);
  CHECK(sb.rejected == 0);
}

TEST_CASE("a 16M-float payload crosses intact both ways", "[net][van]") {
  const std::string transport = GENERATE("inproc", "tcp");
  INFO(transport);
  pair_fixture f(transport);
  constexpr std::size_t n = 16u << 20;
  auto params = std::make_shared<const std::vector<float>>(test::ramp(n, 0.25f));
  message m(msg_type::params);
  m.add_tensor("params", {static_cast<std::uint32_t>(n)}, params);
  f.a.send("b", std::move(m));

  auto got = f.b_in.pop(60s);
  REQUIRE(got);
  const auto v = got->view<float>(0);
  REQUIRE(v.size == n);
  CHECK(std::equal(v.begin(), v.end(), params->begin()));
  if (transport == "inproc")
    CHECK(v.data == params->data()); // zero-copy end to end: the receiver reads the sender's buffer

  message echo(msg_type::params); // forward the received frame as is: no copy on this side either
  echo.h.tensors = got->h.tensors;
  echo.frames = got->frames;
  f.b.send("a", std::move(echo));
  auto back = f.a_in.pop(60s);
  REQUIRE(back);
  const auto w = back->view<float>(0);
  REQUIRE(w.size == n);
  CHECK(std::equal(w.begin(), w.end(), params->begin()));
}

TEST_CASE("a zero-copy send keeps the buffer alive until ZeroMQ releases it", "[net][van]") {
  const std::string transport = GENERATE("inproc", "tcp");
  INFO(transport);
  pair_fixture f(transport);
  test::counter released;
  const float* raw = nullptr;
  {
    auto owned = std::make_unique<std::vector<float>>(1u << 20, 1.5f);
    raw = owned->data();
    std::shared_ptr<const std::vector<float>> buf(owned.release(), [&released](const std::vector<float>* p) {
      delete p;
      released.bump();
    });
    message m(msg_type::push_gradient);
    m.add_tensor("g", {1u << 20}, std::move(buf));
    f.a.send("b", std::move(m)); // the sender keeps no reference
  }
  auto got = f.b_in.pop();
  REQUIRE(got);
  CHECK(got->view<float>(0)[12345] == 1.5f);
  if (transport == "inproc") {
    CHECK(got->view<float>(0).data == raw);
    CHECK_FALSE(released.wait_for(1, 0ms)); // the receiver still reads it
  }
  got.reset();
  CHECK(released.wait_for(1));
}

TEST_CASE("a handler may reply from the I/O thread, in order", "[net][van]") {
  const std::string transport = GENERATE("inproc", "tcp");
  INFO(transport);
  auto ctx = context::create();
  van server(test::options("server", ctx)), client(test::options("client", ctx));
  server.set_handler([&server](message&& m) {
    message r(msg_type::ack);
    r.h.step = m.h.step;
    r.add_tensor("echo", {1}, std::vector<std::int32_t>{static_cast<std::int32_t>(m.h.step) * 2});
    server.send(m.h.sender, std::move(r));
  });
  test::inbox in;
  client.set_handler(in.handler());
  client.connect("server", server.bind(test::bind_endpoint(transport)));
  for (std::uint64_t i = 0; i < 200; ++i) {
    message m(msg_type::request_batches);
    m.h.step = i;
    client.send("server", std::move(m));
  }
  std::uint64_t last_seq = 0;
  for (std::uint64_t i = 0; i < 200; ++i) {
    auto r = in.pop();
    REQUIRE(r);
    REQUIRE(r->h.step == i);
    REQUIRE(r->view<std::int32_t>(0)[0] == static_cast<std::int32_t>(2 * i));
    REQUIRE(r->h.seq > last_seq);
    last_seq = r->h.seq;
  }
  server.stop();
  CHECK(server.counters().messages_sent == 200);
}

TEST_CASE("garbage from a raw socket is counted and the van keeps serving", "[net][van]") {
  const std::string transport = GENERATE("inproc", "tcp");
  INFO(transport);
  auto ctx = context::create();
  test::counter rejections;
  auto opts = test::options("b", ctx);
  opts.on_reject = [&rejections](const std::string&, const decode_error&) { rejections.bump(); };
  van b(opts);
  test::inbox in;
  b.set_handler(in.handler());
  const auto ep = b.bind(test::bind_endpoint(transport));

  zmq::socket_t raw(ctx.native(), zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::routing_id, "raw");
  raw.set(zmq::sockopt::rcvtimeo, 20000);
  raw.connect(ep);
  const auto send_frames = [&raw](const std::vector<payload>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i)
      REQUIRE(raw.send(zmq::buffer(frames[i].data(), frames[i].size()),
                       i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none));
  };

  REQUIRE(raw.send(zmq::str_buffer("GET / HTTP/1.1"), zmq::send_flags::none));
  REQUIRE(rejections.wait_for(1));
  auto st = b.counters();
  CHECK(st.rejected == 1);
  CHECK(st.rejected_by_reason[decode_error::bad_magic] == 1);
  CHECK_THAT(st.last_rejection, Catch::StartsWith("from 'raw': bad_magic: "));
  CHECK_FALSE(b.has_route("raw"));

  message spoof(msg_type::hello);
  spoof.h.cluster_id = cluster_id_of("test");
  spoof.h.sender = "mallory"; // the connection says "raw"
  send_frames(encode(spoof));
  REQUIRE(rejections.wait_for(2));
  CHECK(b.counters().rejected_by_reason[decode_error::bad_header] == 1);

  message hello(msg_type::hello);
  hello.h.cluster_id = cluster_id_of("test");
  hello.h.sender = "raw";
  hello.add_tensor("x", {2}, std::vector<float>{3, 4});
  send_frames(encode(hello));
  auto got = in.pop();
  REQUIRE(got);
  CHECK(got->h.sender == "raw");
  CHECK(got->view<float>(0)[1] == 4.0f);

  b.send("raw", message(msg_type::welcome)); // the reply goes back through the ROUTER
  std::vector<payload> reply;
  for (bool more = true; more;) {
    zmq::message_t part;
    REQUIRE(raw.recv(part, zmq::recv_flags::none));
    more = part.more();
    reply.push_back(payload::copy_of(part.data(), part.size()));
  }
  auto decoded = decode(reply, limits{}, cluster_id_of("test"));
  REQUIRE(decoded.ok());
  CHECK(decoded.value().h.type == msg_type::welcome);
  CHECK(decoded.value().h.sender == "b");
  CHECK(b.counters().rejected == 2);
}

TEST_CASE("a peer from another cluster is rejected", "[net][van]") {
  const std::string transport = GENERATE("inproc", "tcp");
  INFO(transport);
  auto ctx = context::create();
  test::counter rejections;
  auto opts = test::options("b", ctx, "cluster-one");
  opts.on_reject = [&rejections](const std::string&, const decode_error&) { rejections.bump(); };
  van b(opts);
  test::inbox in;
  b.set_handler(in.handler());
  const auto ep = b.bind(test::bind_endpoint(transport));
  van stranger(test::options("stranger", ctx, "cluster-two")), member(test::options("member", ctx, "cluster-one"));
  stranger.connect("b", ep);
  member.connect("b", ep);

  stranger.send("b", message(msg_type::hello));
  REQUIRE(rejections.wait_for(1));
  member.send("b", message(msg_type::hello));
  auto got = in.pop();
  REQUIRE(got);
  CHECK(got->h.sender == "member"); // the stranger's hello never reached the handler
  const auto st = b.counters();
  CHECK(st.rejected_by_reason[decode_error::wrong_cluster] == 1);
  CHECK_THAT(st.last_rejection,
             Catch::Contains(fmt::format("is not this cluster's {:#018x}", cluster_id_of("cluster-one"))));
  CHECK_FALSE(b.has_route("stranger"));
}

TEST_CASE("a van checks sizes itself where ZeroMQ does not (inproc)", "[net][van]") {
  auto ctx = context::create();
  test::counter rejections;
  auto opts = test::options("b", ctx);
  opts.lim.max_message_bytes = 1000;
  opts.on_reject = [&rejections](const std::string&, const decode_error&) { rejections.bump(); };
  van b(opts), a(test::options("a", ctx));
  a.connect("b", b.bind(test::bind_endpoint("inproc")));
  message big(msg_type::batch);
  big.add_tensor("x", {500}, std::vector<float>(500));
  a.send("b", std::move(big));
  REQUIRE(rejections.wait_for(1));
  CHECK(b.counters().rejected_by_reason[decode_error::too_large] == 1);
}

TEST_CASE("misuse of a van fails loudly and stop is idempotent", "[net][van]") {
  auto ctx = context::create();
  CHECK_THROWS_AS(van(test::options("", ctx)), troupe::error);
  van a(test::options("a", ctx));
  CHECK_THROWS_WITH(a.send("nobody", message(msg_type::heartbeat)), Catch::Contains("no route to 'nobody'"));
  CHECK_THROWS_AS(a.bind("bogus://x"), troupe::error);
  const auto ep = a.bind(test::bind_endpoint("tcp"));
  van b(test::options("b", ctx));
  b.connect("a", ep);
  CHECK_THROWS_WITH(b.connect("a", ep), Catch::Contains("already connected"));
  CHECK_THROWS_AS(b.connect("c", "bogus://x"), troupe::error);
  CHECK_FALSE(b.has_route("c"));
  message bad(msg_type::params);
  bad.h.tensors.push_back({"w", dtype::f32, {4}}); // no frame
  CHECK_THROWS_AS(b.send("a", bad), troupe::error);
  b.stop();
  b.stop();
  CHECK_THROWS_WITH(b.send("a", message(msg_type::heartbeat)), Catch::Contains("stopped"));
  CHECK_THROWS_AS(b.bind(test::bind_endpoint("tcp")), troupe::error);
}

TEST_CASE("a van that knows the cluster's nodes refuses a connection calling itself anything else", "[net][van]") {
  auto ctx = context::create();
  auto bo = test::options("b", ctx);
  bo.known_peers = {"a", "b"};
  van b(bo);
  test::inbox b_in;
  b.set_handler(b_in.handler());
  const auto endpoint = b.bind(test::bind_endpoint("tcp"));
  van a(test::options("a", ctx)), stranger(test::options("stranger", ctx));
  a.connect("b", endpoint);
  stranger.connect("b", endpoint);
  for (int i = 0; i < 3; ++i)
    stranger.send("b", message(msg_type::heartbeat));
  a.send("b", message(msg_type::heartbeat));
  const auto got = b_in.pop();
  REQUIRE(got);
  CHECK(got->h.sender == "a"); // the node of the cluster gets through
  // The stranger's messages travel on their own connection: wait (bounded) until all are refused.
  for (int i = 0; i < 500 && b.counters().rejected_by_reason[decode_error::unauthenticated] < 3; ++i)
    std::this_thread::sleep_for(10ms);
  a.stop();
  stranger.stop();
  b.stop();
  CHECK_FALSE(b_in.pop(100ms));
  const auto c = b.counters();
  CHECK(c.rejected_by_reason[decode_error::unauthenticated] == 3);
  CHECK_THAT(c.last_rejection, Catch::Matchers::Contains("'stranger', which is not a node of this cluster"));
}
