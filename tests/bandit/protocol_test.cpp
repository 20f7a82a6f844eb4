#include <catch2/catch.hpp>

#include "bandit/protocol.hpp"
#include "bandit_test_util.hpp"
#include "common/error.hpp"
#include "net/codec.hpp"

using namespace troupe::bandit;
using Catch::Contains;
using troupe::net::msg_type;

namespace {

/// m after a trip through the wire format (encode + strict decode).
troupe::net::message wire(troupe::net::message m, const std::string& sender = "peer") {
  m.h.sender = sender;
  auto r = troupe::net::decode(troupe::net::encode(m), troupe::net::limits{}, 0);
  REQUIRE(r.ok());
  return std::move(r).value();
}

} // namespace

TEST_CASE("bandit messages round-trip through the wire format", "[bandit][protocol]") {
  SECTION("hello") {
    const auto m = wire(encode(hello_msg{3, 0xdeadbeefcafeULL}));
    CHECK(m.h.type == msg_type::hello);
    CHECK(destination(m) == server_actor);
    const hello_msg h = decode_hello(m);
    CHECK(h.rank == 3);
    CHECK(h.digest == 0xdeadbeefcafeULL);
  }
  SECTION("phase plan") {
    const auto m = wire(encode(phase_msg{4, 100, 14, 30, 9000, {1, 5, 9}}, 2));
    CHECK(destination(m) == "trainer-2");
    CHECK(m.h.step == 4);
    const phase_msg p = decode_phase(m, 10);
    CHECK(p.phase == 4);
    CHECK(p.pulls == 100);
    CHECK(p.admit_from == 14);
    CHECK(p.admit_to == 30);
    CHECK(p.t_end == 9000);
    CHECK(p.active == std::vector<std::size_t>{1, 5, 9});
    CHECK_FALSE(is_ucb1_start(m));
    CHECK(is_ucb1_start(wire(encode_ucb1_start(0))));
  }
  SECTION("upload") {
    upload_msg u;
    u.rank = 1;
    u.phase = 2;
    u.clients = {1, 4};
    u.arms = 3;
    u.means = {0.5f, 0.25f, 0.125f, 1.0f, 2.0f, 3.0f};
    const upload_msg v = decode_upload(wire(encode(u)));
    CHECK(v.rank == 1);
    CHECK(v.phase == 2);
    CHECK(v.clients == u.clients);
    CHECK(v.arms == 3);
    CHECK(v.means == u.means);
  }
  SECTION("ucb1 result, shutdown, reject") {
    run_result r;
    r.algorithm = troupe::config::bandit_algorithm::ucb1;
    r.horizon = 1000;
    r.pull_regret = 0.1 + 0.2; // not representable in a short decimal: must still round-trip exactly
    r.active = {0, 1};
    r.chosen = 1;
    const run_result back = decode_ucb1_result(wire(encode_ucb1_result(0, r)));
    CHECK(back == r);
    const shutdown_msg s = decode_shutdown(wire(encode(shutdown_msg{"done", 9, 1000}, 3)));
    CHECK(s.reason == "done");
    CHECK(s.arm == 9);
    CHECK(s.t == 1000);
    CHECK(decode_reject(wire(encode_reject("trainer-0", 0, "no"))) == "no");
  }
}

TEST_CASE("malformed bandit messages are refused with a clear error", "[bandit][protocol]") {
  SECTION("wrong type, meta, destination") {
    CHECK_THROWS_WITH(decode_hello(encode_welcome(0, 1)), Contains("expected a hello message, got welcome"));
    troupe::net::message m(msg_type::hello);
    m.h.meta = "[1, 2]";
    CHECK_THROWS_WITH(decode_hello(m), Contains("meta is not a JSON object"));
    CHECK_THROWS_WITH(destination(m), Contains("names no destination actor"));
    CHECK_THROWS_WITH(decode_hello(make_message(msg_type::hello, server_actor, {{"rank", "x"}, {"digest", 1}})),
                      Contains("malformed field 'rank'"));
  }
  SECTION("phase plans out of range") {
    CHECK_THROWS_WITH(decode_phase(encode(phase_msg{1, 10, 0, 2, 20, {1, 12}}, 0), 10),
                      Contains("active arms must ascend within [0, 10), got 12"));
    CHECK_THROWS_WITH(decode_phase(encode(phase_msg{1, 10, 0, 2, 20, {3, 3}}, 0), 10), Contains("must ascend"));
    CHECK_THROWS_WITH(decode_phase(encode(phase_msg{1, 0, 0, 2, 20, {1}}, 0), 10), Contains("make no sense"));
    CHECK_THROWS_WITH(decode_phase(encode(phase_msg{1, 5, 4, 2, 20, {1}}, 0), 10), Contains("make no sense"));
    auto no_arms = make_message(msg_type::params, "trainer-0",
                                {{"phase", 1}, {"pulls", 1}, {"admit_from", 0}, {"admit_to", 1}, {"t_end", 2}});
    CHECK_THROWS_WITH(decode_phase(no_arms, 10), Contains("0 active arms"));
  }
  SECTION("uploads with inconsistent tensors") {
    auto m = make_message(msg_type::push_gradient, server_actor, {{"rank", 0}, {"phase", 1}});
    CHECK_THROWS_WITH(decode_upload(m), Contains("expected a tensor 'local_means'"));
    m.add_tensor("local_means", {2, 3}, std::vector<float>(6, 0.5f));
    CHECK_THROWS_WITH(decode_upload(m), Contains("no tensor 'clients'"));
    m.add_tensor("clients", {3}, std::vector<std::int32_t>{0, 1, 2});
    CHECK_THROWS_WITH(decode_upload(m), Contains("'clients' holds 3 values, expected 2"));
    auto n = make_message(msg_type::push_gradient, server_actor, {{"rank", 0}, {"phase", 1}});
    n.add_tensor("local_means", {2, 1}, std::vector<float>(2, 0.5f));
    n.add_tensor("clients", {2}, std::vector<std::int32_t>{4, 2});
    CHECK_THROWS_WITH(decode_upload(n), Contains("client ids must ascend"));
    upload_msg u;
    u.clients = {0};
    u.arms = 2;
    u.means = {1.0f};
    CHECK_THROWS_AS(encode(u), troupe::error);
  }
  SECTION("a malformed result") {
    auto m = make_message(msg_type::metrics, server_actor, {{"rank", 0}, {"result", {{"algorithm", "ucb1"}}}});
    CHECK_THROWS_WITH(decode_ucb1_result(m), Contains("malformed run result"));
  }
}

TEST_CASE("the digest tells parameter sets and host counts apart", "[bandit][protocol]") {
  const auto p = test::fed2(test::paper_means, 1000, 10);
  auto q = p;
  q.seed = 2;
  CHECK(digest(p, 3) == digest(p, 3));
  CHECK(digest(p, 3) != digest(p, 4));
  CHECK(digest(p, 3) != digest(q, 3));
}
