// Every protocol message round-trips through encode -> wire frames -> decode, and a malformed one
// (missing or mistyped field, wrong tensor size, wrong type) is refused with a clear error.

#include "ps/protocol.hpp"

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "net/codec.hpp"

using namespace troupe;
using namespace troupe::ps;

namespace {

/// m through the real wire format, as a peer would receive it.
net::message over_the_wire(net::message m) {
  m.h.cluster_id = 7;
  m.h.sender = "peer";
  auto frames = net::encode(m);
  auto r = net::decode(std::move(frames), {}, 7);
  REQUIRE(r.ok());
  return std::move(r).value();
}

std::shared_ptr<const std::vector<float>> floats(std::size_t n, float start) {
  auto v = std::make_shared<std::vector<float>>(n);
  for (std::size_t i = 0; i < n; ++i)
    (*v)[i] = start + static_cast<float>(i);
  return v;
}

} // namespace

TEST_CASE("protocol messages round-trip with the recipient in the header", "[ps][protocol]") {
  SECTION("hello") {
    const auto m = over_the_wire(encode(hello{3, "fp"}, aggregator_name));
    REQUIRE(m.h.to == std::vector<std::string>{aggregator_name});
    const auto h = decode_hello(m);
    REQUIRE(h.rank == 3);
    REQUIRE(h.job == "fp");
  }
  SECTION("the loader's hello, and a reject") {
    const auto h = decode_hello(over_the_wire(encode(hello{0, "fp", true}, aggregator_name)));
    REQUIRE(h.loader);
    REQUIRE(h.job == "fp");
    REQUIRE(decode_reject(over_the_wire(encode(reject{"job.seed: '1' here, '2' on node 'l'"}, loader_name))).reason ==
            "job.seed: '1' here, '2' on node 'l'");
    REQUIRE(decode_waiting(over_the_wire(encode(waiting{"the loader"}, trainer_name(0)))).for_what == "the loader");
  }
  SECTION("welcome") {
    welcome w;
    w.rank = 1;
    w.trainers = 2;
    w.steps_per_epoch = 10;
    w.epochs = 3;
    w.gate = {config::consistency::ssp, 2};
    w.clock = 4;
    w.min_clock = 3;
    w.version = 9;
    w.params.shared = floats(5, 1.f);
    const auto m = over_the_wire(encode(w, trainer_name(1)));
    REQUIRE(m.h.to == std::vector<std::string>{"trainer-1"});
    const auto d = decode_welcome(m, 5);
    REQUIRE(d.rank == 1);
    REQUIRE(d.trainers == 2);
    REQUIRE(d.steps_per_epoch == 10);
    REQUIRE(d.epochs == 3);
    REQUIRE(d.gate.mode == config::consistency::ssp);
    REQUIRE(d.gate.staleness == 2);
    REQUIRE(d.clock == 4);
    REQUIRE(d.min_clock == 3);
    REQUIRE(d.version == 9);
    REQUIRE(std::vector<float>(d.params.data, d.params.data + d.params.size) == *w.params.shared);
  }
  SECTION("params for several trainers of one node") {
    params_update p{6, 11, {floats(4, 0.5f), nullptr, 0}};
    const auto m = over_the_wire(encode(p, {"trainer-0", "trainer-2"}));
    REQUIRE(m.h.to == std::vector<std::string>{"trainer-0", "trainer-2"});
    const auto d = decode_params(m, 4);
    REQUIRE(d.min_clock == 6);
    REQUIRE(d.version == 11);
    REQUIRE(d.params.data[3] == 3.5f);
  }
  SECTION("push, with and without a gradient") {
    push p;
    p.rank = 1;
    p.clock = 12;
    p.version_read = 10;
    p.loss_sum = 2.5;
    p.n = 3;
    p.correct1 = 2;
    p.correct5 = 3;
    p.grad.shared = floats(4, -1.f);
    auto d = decode_push(over_the_wire(encode(p)), 4);
    REQUIRE(d.rank == 1);
    REQUIRE(d.clock == 12);
    REQUIRE(d.version_read == 10);
    REQUIRE(d.loss_sum == 2.5);
    REQUIRE(d.n == 3);
    REQUIRE(d.correct1 == 2);
    REQUIRE(d.correct5 == 3);
    REQUIRE(d.grad.size == 4);
    REQUIRE(d.grad.data[0] == -1.f);
    p.n = 0;
    p.grad = {};
    d = decode_push(over_the_wire(encode(p)), 4);
    REQUIRE(d.n == 0);
    REQUIRE(d.grad.data == nullptr);
  }
  SECTION("batch request") {
    const auto d = decode_batch_request(over_the_wire(encode(batch_request{2, 4, 17})));
    REQUIRE(d.rank == 2);
    REQUIRE(d.credits == 4);
    REQUIRE(d.from_clock == 17);
  }
  SECTION("batch") {
    batch b;
    b.clock = 21;
    b.epoch = 1;
    b.step = 3;
    b.n = 2;
    b.image_shape = {1, 2, 2};
    b.images_out = floats(8, 0.f);
    b.labels_out = std::make_shared<const std::vector<std::int32_t>>(std::vector<std::int32_t>{4, 9});
    const auto m = over_the_wire(encode(b, trainer_name(0)));
    const auto d = decode_batch(m);
    REQUIRE(d.clock == 21);
    REQUIRE(d.epoch == 1);
    REQUIRE(d.step == 3);
    REQUIRE(d.n == 2);
    REQUIRE(d.image_shape == std::vector<std::uint32_t>{1, 2, 2});
    REQUIRE(d.images.size == 8);
    REQUIRE(d.labels[1] == 9);
  }
  SECTION("shutdown") {
    auto d = decode_shutdown(over_the_wire(encode(shutdown{"done", std::nullopt}, loader_name)));
    REQUIRE(d.reason == "done");
    REQUIRE_FALSE(d.rank);
    d = decode_shutdown(over_the_wire(encode(shutdown{"stopped", 1}, aggregator_name)));
    REQUIRE(d.rank == std::optional<std::size_t>(1));
  }
}

TEST_CASE("malformed protocol messages are refused naming the field and the sender", "[ps][protocol]") {
  auto with_meta = [](net::msg_type t, const std::string& meta) {
    net::message m(t);
    m.h.sender = "mallory";
    m.h.to = {aggregator_name};
    m.h.meta = meta;
    return m;
  };
  using Catch::Matchers::Contains;
  REQUIRE_THROWS_WITH(decode_push(with_meta(net::msg_type::push_gradient, "[1]"), 4),
                      Contains("mallory") && Contains("not a JSON object"));
  REQUIRE_THROWS_WITH(decode_push(with_meta(net::msg_type::push_gradient, R"({"rank": 0})"), 4),
                      Contains("'loss_sum'"));
  REQUIRE_THROWS_WITH(decode_push(with_meta(net::msg_type::push_gradient,
                                            R"({"rank": -1, "loss_sum": 0, "n": 0, "correct1": 0, "correct5": 0})"),
                                  4),
                      Contains("'rank'"));
  // n > 0 without the gradient frame, and a gradient of the wrong size.
  REQUIRE_THROWS_WITH(decode_push(with_meta(net::msg_type::push_gradient,
                                            R"({"rank": 0, "loss_sum": 0, "n": 2, "correct1": 0, "correct5": 0})"),
                                  4),
                      Contains("no tensor 'grad'"));
  push p;
  p.n = 1;
  p.grad.shared = floats(3, 0.f);
  REQUIRE_THROWS_WITH(decode_push(over_the_wire(encode(p)), 4), Contains("3 floats, the model has 4"));
  REQUIRE_THROWS_WITH(decode_welcome(with_meta(net::msg_type::hello, "{}"), 4), Contains("expected welcome"));
  REQUIRE_THROWS_WITH(decode_welcome(with_meta(net::msg_type::welcome,
                                               R"({"rank": 0, "trainers": 1, "steps_per_epoch": 1, "epochs": 1,
                                                   "mode": "fast", "staleness": 0, "clock": 0})"),
                                     4),
                      Contains("unknown consistency mode 'fast'"));
  REQUIRE_THROWS_WITH(decode_hello(with_meta(net::msg_type::hello, R"({"rank": 0, "role": "king"})")),
                      Contains("unknown role 'king'"));
  REQUIRE_THROWS_WITH(decode_batch(with_meta(net::msg_type::batch, R"({"epoch": 0, "step": 0, "n": 2})")),
                      Contains("0 tensors"));
}
