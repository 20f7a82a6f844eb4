// The trainer's core without an actor: the gate, batches keyed by clock, parameter versions,
// re-sync and the credits it asks the loader for.

#include "ps/trainer_core.hpp"

#include <catch2/catch.hpp>

#include "net/codec.hpp"

using namespace troupe;
using namespace troupe::ps;

namespace {

constexpr std::size_t P = 3;

welcome make_welcome(std::uint64_t clock, std::uint64_t min_clock, std::uint64_t version, float value,
                     consistency_gate gate = {config::consistency::bsp, 0}) {
  welcome w;
  w.rank = 0;
  w.trainers = 2;
  w.steps_per_epoch = 4;
  w.epochs = 2;
  w.gate = gate;
  w.clock = clock;
  w.min_clock = min_clock;
  w.version = version;
  auto v = std::make_shared<const std::vector<float>>(P, value);
  w.params = {v, v->data(), v->size(), nullptr};
  return w;
}

params_update make_params(std::uint64_t min_clock, std::uint64_t version, float value) {
  auto v = std::make_shared<const std::vector<float>>(P, value);
  return {min_clock, version, {v, v->data(), v->size(), nullptr}};
}

std::shared_ptr<const net::message> batch_for(std::uint64_t clock) {
  batch b;
  b.clock = clock;
  b.n = 0; // an empty batch carries no tensors: enough for the bookkeeping
  auto m = encode(b, trainer_name(0));
  m.h.sender = "loader";
  return std::make_shared<const net::message>(std::move(m));
}

} // namespace

TEST_CASE("a trainer core asks for its prefetch, computes clocks in order and stops at the end", "[ps][trainer]") {
  trainer_core t(0, P, 3);
  REQUIRE_FALSE(t.welcomed());
  REQUIRE(t.on_welcome(make_welcome(0, 0, 0, 1.f)).first);
  REQUIRE(t.total_clocks() == 8);
  auto r = t.request(3);
  REQUIRE(r);
  REQUIRE(r->from_clock == 0);
  REQUIRE(r->credits == 3);
  REQUIRE(t.allowed());
  REQUIRE_FALSE(t.has_batch());
  REQUIRE(t.prefetched() == 0);
  REQUIRE(t.on_batch(batch_for(0)));
  REQUIRE_FALSE(t.on_batch(batch_for(0))); // a duplicate replaces nothing
  REQUIRE(t.on_batch(batch_for(1)));
  REQUIRE(t.prefetched() == 2); // the depth the transport records report
  REQUIRE(t.has_batch());
  t.take_batch();
  REQUIRE(t.prefetched() == 1);
  const auto p = t.complete_step(1.0, 0, 0, 0, nullptr);
  REQUIRE(p.clock == 0);
  REQUIRE(t.clock() == 1);
  REQUIRE_FALSE(t.allowed()); // bsp: clock 1 waits for the round of clock 0
  t.on_params(make_params(1, 1, 2.f));
  REQUIRE(t.allowed());
  REQUIRE(t.params()[0] == 2.f);
  REQUIRE_FALSE(t.on_batch(batch_for(0))); // already used
  // One credit back per step: asks for clock 3 next; credits never pass the last clock.
  REQUIRE(t.request(1)->from_clock == 3);
  REQUIRE(t.request(10)->credits == 4);
  REQUIRE_FALSE(t.request(1));
}

TEST_CASE("ssp lets a trainer run s clocks ahead, asp never waits, and older parameters are ignored", "[ps][trainer]") {
  trainer_core ssp(0, P, 1);
  ssp.on_welcome(make_welcome(0, 0, 0, 0.f, {config::consistency::ssp, 1}));
  for (std::uint64_t c = 0; c < 2; ++c) {
    REQUIRE(ssp.allowed());
    ssp.complete_step(0, 0, 0, 0, nullptr);
  }
  REQUIRE_FALSE(ssp.allowed()); // clock 2 > slowest 0 + 1
  trainer_core asp(0, P, 1);
  asp.on_welcome(make_welcome(0, 0, 5, 0.f, {config::consistency::asp, 0}));
  for (int c = 0; c < 5; ++c)
    asp.complete_step(0, 0, 0, 0, nullptr);
  REQUIRE(asp.allowed());
  asp.on_params(make_params(2, 4, 9.f)); // overtaken by version 5: not taken, but the clock counts
  REQUIRE(asp.version() == 5);
  REQUIRE(asp.params()[0] == 0.f);
  REQUIRE(asp.min_clock() == 2);
}

TEST_CASE("a re-sync moves the clock, drops older batches and asks the loader again from there", "[ps][trainer]") {
  trainer_core t(0, P, 2);
  t.on_welcome(make_welcome(0, 0, 0, 1.f));
  t.request(2);
  for (std::uint64_t c = 0; c < 4; ++c)
    t.on_batch(batch_for(c));
  // A restarted aggregator resumed from a checkpoint at clock 2, version 2 (lower than ours would be).
  const auto r = t.on_welcome(make_welcome(2, 2, 2, 7.f));
  REQUIRE_FALSE(r.first);
  REQUIRE(r.clock_moved);
  REQUIRE(t.clock() == 2);
  REQUIRE(t.version() == 2);
  REQUIRE(t.params()[0] == 7.f);
  REQUIRE(t.has_batch());
  REQUIRE(t.prefetched() == 2); // clocks 0 and 1 were dropped
  const auto again = t.pending_request();
  REQUIRE(again);
  REQUIRE(again->from_clock == 2);
  REQUIRE_FALSE(t.pending_request());
  // The same clock again: nothing to ask.
  REQUIRE_FALSE(t.on_welcome(make_welcome(2, 2, 3, 8.f)).clock_moved);
  REQUIRE_FALSE(t.pending_request());
  REQUIRE(t.request_again()->from_clock == 2);
}

TEST_CASE("a welcome answering a hello the trainer's pushes overtook does not put it back; one at its clock does",
          "[ps][trainer]") {
  trainer_core t(0, P, 2, {config::compression::topk, 0.3});
  t.on_welcome(make_welcome(0, 0, 0, 1.f));
  t.request(2);
  // Clocks 0 and 1 pushed; a hello said at clock 0 (in the handshake) is answered only now.
  t.complete_step(1.0, 2, 0, 0, std::make_shared<const std::vector<float>>(std::vector<float>{3.0f, 4.0f, 0.0f}));
  t.on_params(make_params(1, 1, 2.f));
  t.complete_step(1.0, 2, 0, 0, std::make_shared<const std::vector<float>>(std::vector<float>{0.0f, 0.0f, 1.0f}));
  REQUIRE(t.clock() == 2);
  REQUIRE(t.compressor()->residual_norm() == 1.0); // {3, 0, 1}: the 3 went, the 1 stays
  auto late = make_welcome(0, 0, 0, 1.f);
  late.answers_clock = 0;
  const auto r = t.on_welcome(late);
  REQUIRE(r.stale);
  REQUIRE_FALSE(r.clock_moved);
  REQUIRE_FALSE(r.residual_reset);
  REQUIRE(t.clock() == 2);
  REQUIRE(t.version() == 1); // the older parameters in it are not taken
  REQUIRE(t.params()[0] == 2.f);
  REQUIRE(t.compressor()->residual_norm() == 1.0); // error feedback keeps its residual
  REQUIRE_FALSE(t.pending_request());
  // A hello said at clock 2 answered with clock 1: the aggregator lacks our push of clock 1 (lost
  // on the way): go back and redo it.
  auto lacks = make_welcome(1, 1, 1, 2.f);
  lacks.answers_clock = 2;
  const auto back = t.on_welcome(lacks);
  REQUIRE_FALSE(back.stale);
  REQUIRE(back.clock_moved);
  REQUIRE(t.clock() == 1);
  // Welcomes that answer no hello (a restarted aggregator's start, a rewind) move it as before.
  const auto restart = t.on_welcome(make_welcome(0, 0, 0, 1.f));
  REQUIRE(restart.clock_moved);
  REQUIRE(t.clock() == 0);
}

TEST_CASE("a welcome for another rank or parameters of the wrong size are refused", "[ps][trainer]") {
  trainer_core t(1, P, 1);
  REQUIRE_THROWS(t.on_welcome(make_welcome(0, 0, 0, 1.f))); // rank 0's welcome
  trainer_core u(0, P + 1, 1);
  REQUIRE_THROWS(u.on_welcome(make_welcome(0, 0, 0, 1.f)));
}

TEST_CASE("with compression a trainer core pushes compressed gradients and keeps their residual",
          "[ps][trainer][compression]") {
  const config::compression_spec topk{config::compression::topk, 0.3}; // ceil(0.9): one entry of three
  SECTION("no compression: the gradient travels as it is, and there is no residual") {
    trainer_core t(0, P, 1);
    t.on_welcome(make_welcome(0, 0, 0, 1.f));
    const auto p = t.complete_step(1.0, 2, 0, 0, std::make_shared<const std::vector<float>>(P, 0.5f));
    REQUIRE_FALSE(p.grad.packed);
    REQUIRE(t.compressor() == nullptr);
  }
  SECTION("top-k: the largest entry goes, the rest stays in the residual") {
    trainer_core t(0, P, 1, topk);
    t.on_welcome(make_welcome(0, 0, 0, 1.f));
    const auto p = t.complete_step(1.0, 2, 0, 0,
                                   std::make_shared<const std::vector<float>>(std::vector<float>{0.25f, -1.0f, 0.5f}));
    REQUIRE(p.grad.packed);
    REQUIRE(*p.grad.packed->index == std::vector<std::int32_t>{1});
    REQUIRE(t.compressor()->residual() == std::vector<float>{0.25f, 0.0f, 0.5f});
    // An empty batch pushes nothing and keeps the residual.
    REQUIRE_FALSE(t.complete_step(0, 0, 0, 0, nullptr).grad.packed);
    REQUIRE(t.compressor()->residual_norm() > 0);
  }
  SECTION("a re-sync that moves the clock drops the residual and says so; one that does not keeps it") {
    trainer_core t(0, P, 1, topk);
    REQUIRE_FALSE(t.on_welcome(make_welcome(0, 0, 0, 1.f)).residual_reset); // a fresh start loses nothing
    t.complete_step(1.0, 2, 0, 0, std::make_shared<const std::vector<float>>(std::vector<float>{3.0f, 4.0f, 0.0f}));
    REQUIRE_FALSE(t.on_welcome(make_welcome(1, 1, 1, 1.f)).residual_reset);
    REQUIRE(t.compressor()->residual_norm() == 3.0);
    const auto r = t.on_welcome(make_welcome(0, 0, 0, 1.f)); // the aggregator rewound to clock 0
    REQUIRE(r.residual_reset);
    REQUIRE(r.residual_norm == 3.0);
    REQUIRE(t.compressor()->residual_norm() == 0);
  }
  SECTION("a new incarnation that continues a run past clock 0 reports the residual it does not have") {
    trainer_core t(0, P, 1, {config::compression::fp16, 0.01});
    const auto r = t.on_welcome(make_welcome(5, 5, 5, 1.f));
    REQUIRE(r.first);
    REQUIRE(r.residual_reset);
    REQUIRE(r.residual_norm == 0);
  }
}

TEST_CASE("with aggregator shards a trainer starts once every shard welcomed it and reads the slowest clock",
          "[ps][trainer][shards]") {
  // P = 3 floats in two shards: [0, 2) and [2, 3).
  trainer_core t(0, P, 2, {}, {{0, 2}, {2, 3}});
  REQUIRE(t.shards() == 2);
  auto part = [](std::size_t shard, std::size_t n, float value, std::uint64_t min_clock, std::uint64_t version) {
    auto w = make_welcome(0, min_clock, version, value);
    auto v = std::make_shared<const std::vector<float>>(n, value);
    w.params = {v, v->data(), v->size(), nullptr};
    w.shard = shard;
    return w;
  };
  REQUIRE_FALSE(t.on_welcome(part(1, 1, 7.f, 0, 0)).first);
  REQUIRE_FALSE(t.welcomed());
  REQUIRE_THROWS_WITH(t.on_welcome(part(0, 3, 1.f, 0, 0)), Catch::Contains("parameters of 3 floats for aggregator "
                                                                           "shard 0's range of 2"));
  REQUIRE(t.on_welcome(part(0, 2, 1.f, 0, 0)).first);
  REQUIRE(t.welcomed());
  REQUIRE(t.params() == std::vector<float>{1.f, 1.f, 7.f});

  // A bsp clock needs the parameters of every shard's round: shard 1 lags.
  REQUIRE(t.on_batch(batch_for(0)));
  t.take_batch();
  auto grad = std::make_shared<const std::vector<float>>(std::vector<float>{0.5f, 1.5f, 2.5f});
  const auto parts = t.split(t.complete_step(1.0, 4, 1, 2, grad));
  REQUIRE(parts.size() == 2);
  REQUIRE(parts[0].shard == 0);
  REQUIRE(parts[1].shard == 1);
  REQUIRE(parts[0].grad.size == 2);
  REQUIRE(parts[1].grad.size == 1);
  REQUIRE(parts[1].grad.data == grad->data() + 2); // a view, not a copy
  REQUIRE(parts[1].n == 4);
  auto update = [](std::size_t shard, std::size_t n, float value, std::uint64_t min_clock, std::uint64_t version) {
    auto v = std::make_shared<const std::vector<float>>(n, value);
    return params_update{min_clock, version, {v, v->data(), v->size(), nullptr}, shard};
  };
  t.on_params(update(0, 2, 2.f, 1, 1));
  REQUIRE_FALSE(t.allowed()); // shard 1 has not closed round 0 yet
  t.on_params(update(1, 1, 8.f, 1, 1));
  REQUIRE(t.allowed());
  REQUIRE(t.params() == std::vector<float>{2.f, 2.f, 8.f});
  REQUIRE(t.version() == 1);
  // Each shard's push carries the version of its own range.
  t.on_params(update(0, 2, 3.f, 1, 2));
  REQUIRE(t.on_batch(batch_for(1)));
  t.take_batch();
  const auto next = t.split(t.complete_step(1.0, 4, 1, 2, grad));
  REQUIRE(next[0].version_read == 2);
  REQUIRE(next[1].version_read == 1);
  REQUIRE_THROWS_WITH(t.on_params(update(2, 1, 0.f, 1, 1)), Catch::Contains("shard 2 but the job has 2"));

  // Pushes that leave during backward are, shard by shard, those the whole step would send.
  REQUIRE(t.pushes_early());
  t.on_params(update(0, 2, 3.f, 2, 2));
  t.on_params(update(1, 1, 8.f, 2, 2));
  REQUIRE(t.on_batch(batch_for(2)));
  t.take_batch();
  const auto clock = t.clock();
  const auto early1 = t.early_part(1, 2.0, 3, 1, 2, grad);
  const auto early0 = t.early_part(0, 2.0, 3, 1, 2, grad);
  REQUIRE(t.clock() == clock); // the step is not over until end_step()
  t.end_step();
  REQUIRE(t.clock() == clock + 1);
  for (const auto* p : {&early0, &early1}) {
    CHECK(p->clock == clock);
    CHECK(p->rank == 0);
    CHECK(p->n == 3);
    CHECK(p->loss_sum == 2.0);
    CHECK(p->correct5 == 2);
  }
  REQUIRE(early0.shard == 0);
  REQUIRE(early0.grad.data == grad->data());
  REQUIRE(early0.grad.size == 2);
  REQUIRE(early0.version_read == 2);
  REQUIRE(early1.shard == 1);
  REQUIRE(early1.grad.data == grad->data() + 2);
  REQUIRE(early1.grad.size == 1);
  REQUIRE(early1.version_read == 2);
  REQUIRE_THROWS_WITH(t.early_part(2, 2.0, 3, 1, 2, grad), Catch::Contains("no early push for shard 2"));
}

TEST_CASE("pushes leave early only with several shards and no compression", "[ps][trainer][shards]") {
  REQUIRE_FALSE(trainer_core(0, P, 2).pushes_early()); // one aggregator: one push, after backward
  config::compression_spec fp16;
  fp16.mode = config::compression::fp16;
  // Error feedback compresses the whole gradient at once.
  REQUIRE_FALSE(trainer_core(0, P, 2, fp16, {{0, 2}, {2, 3}}).pushes_early());
  REQUIRE(trainer_core(0, P, 2, {}, {{0, 2}, {2, 3}}).pushes_early());
}
