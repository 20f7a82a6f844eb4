// Every protocol message round-trips through encode -> wire frames -> decode, and a malformed one
// (missing or mistyped field, wrong tensor size, wrong type) is refused with a clear error.

#include "ps/protocol.hpp"

#include <cmath>
#include <functional>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "net/codec.hpp"
#include "ps/shard_plan.hpp"

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
  SECTION("balance cuts, and the loader's answer that it holds them") {
    const auto b = decode_balance_cuts(over_the_wire(
        encode(balance_cuts{{balance_cut{10, {812.5, 0.0}, {64, 0}}, balance_cut{20, {1.0, 3.0}, {16, 48}}}, false},
               loader_name)));
    REQUIRE(!b.held);
    REQUIRE(b.cuts.size() == 2);
    REQUIRE(b.cuts[0].from_clock == 10);
    REQUIRE(b.cuts[0].weights == std::vector<double>{812.5, 0.0});
    REQUIRE(b.cuts[1].shares == std::vector<std::size_t>{16, 48});
    const auto held = decode_balance_cuts(over_the_wire(encode(balance_cuts{{}, true}, aggregator_name)));
    REQUIRE(held.held);
    REQUIRE(held.cuts.empty());
    REQUIRE_FALSE(held.late);
    // Backup trainers: the rounds closed without a trainer, for the loader to hand its shares on.
    const auto late =
        decode_balance_cuts(over_the_wire(encode(balance_cuts{{}, false, late_share{2, 7, 10}}, loader_name)));
    REQUIRE(late.late);
    REQUIRE(late.late->rank == 2);
    REQUIRE(late.late->from_clock == 7);
    REQUIRE(late.late->to_clock == 10);
    REQUIRE_THROWS_WITH(
        decode_balance_cuts(over_the_wire(encode(balance_cuts{{}, false, late_share{2, 10, 7}}, loader_name))),
        Catch::Matchers::Contains("run backwards"));
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
    REQUIRE_FALSE(d.answers_clock); // not an answer to a hello
    w.answers_clock = 3;
    REQUIRE(decode_welcome(over_the_wire(encode(w, trainer_name(1))), 5).answers_clock == 3u);
  }
  SECTION("a trainer's hello says its clock; the aggregator's and the loader's do not") {
    REQUIRE(decode_hello(over_the_wire(encode(hello{1, "fp", false, 17}, aggregator_name))).at_clock == 17u);
    REQUIRE_FALSE(decode_hello(over_the_wire(encode(hello{1, "fp"}, aggregator_name))).at_clock);
  }
  SECTION("params for several trainers of one node") {
    params_update p{6, 11, {floats(4, 0.5f), nullptr, 0, nullptr}};
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
  REQUIRE_THROWS_WITH(decode_balance_cuts(with_meta(net::msg_type::balance_cuts, R"({"held": false, "cuts": 3})")),
                      Contains("mallory") && Contains("not an array"));
  REQUIRE_THROWS_WITH(decode_balance_cuts(with_meta(
                          net::msg_type::balance_cuts,
                          R"({"held": false, "cuts": [{"from_clock": 4, "shares": [1, -2], "weights": [1, 1]}]})")),
                      Contains("clock 4") && Contains("not a count"));
  REQUIRE_THROWS_WITH(decode_balance_cuts(with_meta(
                          net::msg_type::balance_cuts,
                          R"({"held": false, "cuts": [{"from_clock": 4, "shares": [1], "weights": [1, 1]}]})")),
                      Contains("one length"));
  REQUIRE_THROWS_WITH(decode_balance_cuts(with_meta(net::msg_type::balance_cuts, R"({"cuts": []})")),
                      Contains("'held'"));
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

namespace {

/// A push of `grad` (n = 2 samples) compressed as `mode` by a fresh compressor (no residual yet).
push compressed_push(const std::vector<float>& grad, config::compression mode, double ratio = 0.5) {
  push p;
  p.rank = 1;
  p.clock = 3;
  p.n = 2;
  p.grad.shared = std::make_shared<const std::vector<float>>(grad);
  p.grad.data = p.grad.shared->data();
  p.grad.size = grad.size();
  gradient_compressor c({mode, ratio}, grad.size());
  p.grad.packed = std::make_shared<const packed_f32>(c.compress(p.grad.data));
  return p;
}

std::vector<float> dense(const flat_f32& v) {
  return {v.data, v.data + v.size};
}

} // namespace

TEST_CASE("compressed gradients and parameters round-trip as 16-bit or sparse tensors", "[ps][protocol][compression]") {
  const std::vector<float> g = {0.5f, -3.0f, 1.0f + std::ldexp(1.0f, -11), 0.0f};
  SECTION("fp16 and bf16 pushes: u16 halves, decoded to the rounded floats") {
    for (const auto mode : {config::compression::fp16, config::compression::bf16}) {
      const auto m = over_the_wire(encode(compressed_push(g, mode)));
      REQUIRE(m.h.tensors.size() == 1);
      CHECK(m.h.tensors[0].name == "grad." + config::to_string(mode));
      CHECK(m.h.tensors[0].type == net::dtype::u16);
      CHECK(m.payload_bytes() == 8);
      const auto d = decode_push(m, 4, mode);
      CHECK(d.n == 2);
      CHECK(dense(d.grad) == std::vector<float>{0.5f, -3.0f, 1.0f, 0.0f}); // 1 + 2^-11 rounds to 1 in both
    }
  }
  SECTION("top-k pushes: positions and values, decoded to a dense vector with zeros elsewhere") {
    const auto m = over_the_wire(encode(compressed_push(g, config::compression::topk, 0.5)));
    REQUIRE(m.h.tensors.size() == 2);
    CHECK(m.h.tensors[0].describe() == "'grad.index' [2] i32");
    CHECK(m.h.tensors[1].describe() == "'grad.values' [2] f32");
    CHECK(dense(decode_push(m, 4, config::compression::topk).grad) ==
          std::vector<float>{0.0f, -3.0f, 1.0f + std::ldexp(1.0f, -11), 0.0f});
  }
  SECTION("parameters as fp16 in params and welcome; top-k leaves them f32") {
    const auto params = std::make_shared<const std::vector<float>>(std::vector<float>{1.0f, 65504.0f, -2.5f});
    flat_f32 v{params, params->data(), params->size(),
               std::make_shared<const packed_f32>(pack_halves(params->data(), 3, config::compression::fp16))};
    const auto m = over_the_wire(encode(params_update{1, 2, v}, {"trainer-0"}));
    CHECK(m.h.tensors[0].describe() == "'params.fp16' [3] u16");
    CHECK(dense(decode_params(m, 3, config::compression::fp16).params) == *params);
    welcome w;
    w.params = v;
    CHECK(dense(decode_welcome(over_the_wire(encode(w, "trainer-0")), 3, config::compression::fp16).params) == *params);
    CHECK(params_encoding(config::compression::topk) == config::compression::none);
    v.packed.reset();
    CHECK(
        dense(decode_params(over_the_wire(encode(params_update{1, 2, v}, {"trainer-0"})), 3, config::compression::topk)
                  .params) == *params);
  }
}

TEST_CASE("malformed compressed messages are refused naming the tensor and the problem",
          "[ps][protocol][compression]") {
  using Catch::Matchers::Contains;
  const std::vector<float> g = {0.5f, -3.0f, 1.0f, 0.25f};
  /// A push whose gradient travels as the given tensors instead.
  const auto push_with = [](const std::function<void(net::message&)>& add) {
    net::message m(net::msg_type::push_gradient);
    m.h.to = {aggregator_name};
    m.h.meta = R"({"rank": 0, "loss_sum": 0, "n": 2, "correct1": 0, "correct5": 0})";
    add(m);
    return over_the_wire(std::move(m));
  };
  const auto topk = [&](std::vector<std::int32_t> index, std::vector<float> values) {
    return push_with([&](net::message& m) {
      const auto k = static_cast<std::uint32_t>(index.size());
      m.add_tensor("grad.index", {k}, std::move(index));
      m.add_tensor("grad.values", {static_cast<std::uint32_t>(values.size())}, std::move(values));
    });
  };
  SECTION("another encoding than the job's") {
    REQUIRE_THROWS_WITH(decode_push(over_the_wire(encode(compressed_push(g, config::compression::fp16))), 4),
                        Contains("no tensor 'grad'") && Contains("'grad.fp16' [4] u16"));
    push plain;
    plain.n = 1;
    plain.grad.shared = std::make_shared<const std::vector<float>>(g);
    REQUIRE_THROWS_WITH(decode_push(over_the_wire(encode(plain)), 4, config::compression::bf16),
                        Contains("no tensor 'grad.bf16' (this job's compression is bf16)") &&
                            Contains("'grad' [4] f32"));
    REQUIRE_THROWS_WITH(
        decode_push(over_the_wire(encode(compressed_push(g, config::compression::fp16))), 4, config::compression::bf16),
        Contains("no tensor 'grad.bf16'"));
  }
  SECTION("halves of the wrong count or type") {
    REQUIRE_THROWS_WITH(decode_push(push_with([](net::message& m) {
                                      m.add_tensor("grad.fp16", {3}, std::vector<std::uint16_t>{1, 2, 3});
                                    }),
                                    4, config::compression::fp16),
                        Contains("'grad.fp16' has 3 halves, the model has 4 parameters"));
    REQUIRE_THROWS_AS(decode_push(push_with([](net::message& m) {
                                    m.add_tensor("grad.fp16", {4}, std::vector<float>{1, 2, 3, 4});
                                  }),
                                  4, config::compression::fp16),
                      troupe::error);
    REQUIRE_THROWS_WITH(decode_push(push_with([](net::message& m) {
                                      m.add_tensor("grad.fp16", {2, 2}, std::vector<std::uint16_t>{1, 2, 3, 4});
                                    }),
                                    4, config::compression::fp16),
                        Contains("is not a vector"));
  }
  SECTION("top-k positions out of range, repeated, decreasing, or not matching the values") {
    CHECK(dense(decode_push(topk({0, 3}, {1.f, 2.f}), 4, config::compression::topk).grad) ==
          std::vector<float>{1.f, 0.f, 0.f, 2.f});
    REQUIRE_THROWS_WITH(decode_push(topk({0, 4}, {1.f, 2.f}), 4, config::compression::topk),
                        Contains("push_gradient from 'peer'") && Contains("position 4 at entry 1 is out of range"));
    REQUIRE_THROWS_WITH(decode_push(topk({-1, 2}, {1.f, 2.f}), 4, config::compression::topk),
                        Contains("position -1 at entry 0 is not increasing"));
    REQUIRE_THROWS_WITH(decode_push(topk({2, 2}, {1.f, 2.f}), 4, config::compression::topk),
                        Contains("position 2 at entry 1 is not increasing"));
    REQUIRE_THROWS_WITH(decode_push(topk({3, 1}, {1.f, 2.f}), 4, config::compression::topk),
                        Contains("position 1 at entry 1 is not increasing"));
    REQUIRE_THROWS_WITH(decode_push(topk({0, 1}, {1.f}), 4, config::compression::topk),
                        Contains("2 positions and 1 values for 4 parameters"));
    REQUIRE_THROWS_WITH(decode_push(topk({0, 1, 2, 3, 3}, {1.f, 1.f, 1.f, 1.f, 1.f}), 4, config::compression::topk),
                        Contains("5 positions and 5 values for 4 parameters"));
    REQUIRE_THROWS_WITH(
        decode_push(push_with([](net::message& m) { m.add_tensor("grad.index", {1}, std::vector<std::int32_t>{0}); }),
                    4, config::compression::topk),
        Contains("no tensor 'grad.values'"));
  }
}

TEST_CASE("sharded messages carry their shard and a range, and the shard must exist", "[ps][protocol][shards]") {
  // A push viewing the second half of a gradient goes to shard 1 without copying it.
  const auto grad = floats(6, 0.f);
  push p;
  p.shard = 1;
  p.rank = 1;
  p.n = 2;
  p.grad = {grad, grad->data() + 3, 3, nullptr};
  const auto m = encode(p);
  REQUIRE(m.h.to == std::vector<std::string>{"aggregator-1"});
  REQUIRE(m.frames.at(0).data() == reinterpret_cast<const std::byte*>(grad->data() + 3));
  const auto wire = over_the_wire(m);
  REQUIRE(shard_of(wire, 2) == 1);
  const auto back = decode_push(wire, 3);
  REQUIRE(back.shard == 1);
  REQUIRE(std::vector<float>(back.grad.data, back.grad.data + 3) == std::vector<float>{3.f, 4.f, 5.f});
  REQUIRE_THROWS_WITH(shard_of(wire, 1), Catch::Contains("shard 1 but the job has 1 aggregator shard"));

  // One aggregator: no shard in meta, as before sharding existed.
  push whole;
  whole.n = 1;
  whole.grad = {grad, grad->data(), grad->size(), nullptr};
  REQUIRE(encode(whole).h.meta.find("shard") == std::string::npos);
  REQUIRE(shard_of(over_the_wire(encode(whole)), 1) == 0);

  params_update u{4, 9, {grad, grad->data(), 3, nullptr}, 2};
  const auto pu = decode_params(over_the_wire(encode(u, {trainer_name(0)})), 3);
  REQUIRE(pu.shard == 2);
  REQUIRE(pu.version == 9);

  shard_report r{2, 40, 17, true, {grad, grad->data() + 3, 3, nullptr}};
  const auto rm = over_the_wire(encode(r));
  REQUIRE(rm.h.to == std::vector<std::string>{aggregator_name});
  const auto rb = decode_shard_report(rm, 3);
  REQUIRE(rb.shard == 2);
  REQUIRE(rb.point == 40);
  REQUIRE(rb.version == 17);
  REQUIRE(rb.final);
  REQUIRE(rb.params.data[0] == 3.f);
  REQUIRE_THROWS_WITH(decode_shard_report(rm, 4), Catch::Contains("3 floats, the model has 4"));
}

TEST_CASE("a shard's checkpoint parts round-trip, and a hostile list is refused", "[ps][protocol][shards]") {
  const auto m = over_the_wire(encode(parts{2, {10, 20, 30}, true, true}, aggregator_shard_name(1)));
  REQUIRE(m.h.to == std::vector<std::string>{"aggregator-1"});
  REQUIRE(is_parts(m));
  REQUIRE_FALSE(is_rewind(m));
  const auto p = decode_parts(m);
  REQUIRE(p.shard == 2);
  REQUIRE(p.steps == std::vector<std::uint64_t>{10, 20, 30});
  REQUIRE(p.answer);
  REQUIRE(p.running);
  REQUIRE_FALSE(is_parts(over_the_wire(encode(ps::rewind{1, 10, 5}, aggregator_name))));
  REQUIRE(decode_parts(over_the_wire(encode(parts{1, {}, false, false}, aggregator_name))).steps.empty());

  auto with_meta = [](const std::string& meta) {
    net::message h(net::msg_type::hello);
    h.h.to = {aggregator_name};
    h.h.meta = meta;
    return over_the_wire(h);
  };
  REQUIRE_THROWS_WITH(decode_parts(with_meta(R"({"shard":1,"parts":[10,-20],"answer":true,"running":false})")),
                      Catch::Contains("'parts' holds -20, not a checkpoint step") && Catch::Contains("'peer'"));
  REQUIRE_THROWS_WITH(decode_parts(with_meta(R"({"shard":1,"parts":"10","answer":true,"running":false})")),
                      Catch::Contains("'parts' must be an array"));
  REQUIRE_THROWS_WITH(decode_parts(with_meta(R"({"shard":1,"parts":[10],"running":false})")),
                      Catch::Contains("field 'answer'"));
  std::string many = R"({"shard":1,"answer":true,"running":false,"parts":[0)";
  for (std::size_t i = 1; i <= max_parts_steps; ++i)
    many += ",1";
  REQUIRE_THROWS_WITH(decode_parts(with_meta(many + "]}")), Catch::Contains("at most 1000 checkpoint steps"));
  // A shard with more parts than that sends the newest ones.
  std::vector<std::uint64_t> lots(max_parts_steps + 5);
  for (std::size_t i = 0; i < lots.size(); ++i)
    lots[i] = 10 * (lots.size() - i); // newest first: the encoder sorts
  const auto newest = decode_parts(over_the_wire(encode(parts{1, lots, true, false}, aggregator_name))).steps;
  REQUIRE(newest.size() == max_parts_steps);
  REQUIRE(newest.front() == 60);
  REQUIRE(newest.back() == 10 * lots.size());
}
