#include "ps/aggregator_core.hpp"

#include <limits>

#include <catch2/catch.hpp>

#include "aggregator_test_util.hpp"

using namespace troupe;
using namespace troupe::ps;
using test::param_and_buffer;
using test::plain_sgd;
using test::two_params;

TEST_CASE("bsp averages a round's gradients by samples and applies them once", "[ps][aggregator][bsp]") {
  aggregator_core agg(plain_sgd(config::consistency::bsp, 2), two_params(), {1.f, 1.f, 1.f});
  const float g0[] = {1.f, 0.f, 2.f}, g1[] = {4.f, 3.f, -1.f};
  auto r0 = agg.push(0, 0, 0, 1, g0);
  REQUIRE(r0.applied == 0);
  REQUIRE(r0.released.empty());
  REQUIRE_FALSE(agg.may_start(0, 1)); // must wait for trainer 1
  auto r1 = agg.push(1, 0, 0, 3, g1);
  REQUIRE(r1.applied == 1);
  REQUIRE(r1.released == std::vector<std::size_t>{0, 1});
  // mean gradient = (1·g0 + 3·g1) / 4 = (3.25, 2.25, -0.25); p = 1 − 0.5·mean
  REQUIRE(agg.params()[0] == Approx(1 - 0.5 * 3.25));
  REQUIRE(agg.params()[1] == Approx(1 - 0.5 * 2.25));
  REQUIRE(agg.params()[2] == Approx(1 + 0.5 * 0.25));
  REQUIRE(agg.version() == 1);
  REQUIRE(agg.may_start(0, 1));
}

TEST_CASE("a replayed push is applied at most once", "[ps][aggregator]") {
  aggregator_core agg(plain_sgd(config::consistency::asp, 1), two_params(), {0.f, 0.f, 0.f});
  const float g[] = {1.f, 1.f, 1.f};
  REQUIRE(agg.push(0, 0, 0, 4, g).applied == 1);
  const auto again = agg.push(0, 0, 0, 4, g);
  REQUIRE(again.duplicate);
  REQUIRE(agg.version() == 1);
  REQUIRE(agg.params()[0] == Approx(-0.5));
  REQUIRE_THROWS_WITH(agg.push(0, 5, 0, 4, g), Catch::Contains("pushed clock 5 but its next clock is 1"));
}

TEST_CASE("ssp lets a trainer run at most s clocks ahead of the slowest", "[ps][aggregator][ssp]") {
  aggregator_core agg(plain_sgd(config::consistency::ssp, 2, 2), two_params(), {0.f, 0.f, 0.f});
  const float g[] = {0.f, 0.f, 0.f};
  // Trainer 0 races ahead while trainer 1 is stuck at clock 0.
  for (std::uint64_t c = 0; c < 2; ++c) {
    REQUIRE(agg.may_start(0, c));
    agg.push(0, c, agg.version(), 1, g);
  }
  REQUIRE(agg.may_start(0, 2)); // 2 − 0 ≤ 2
  agg.push(0, 2, agg.version(), 1, g);
  REQUIRE_FALSE(agg.may_start(0, 3));     // 3 − 0 > 2: blocked
  const auto r = agg.push(1, 0, 0, 1, g); // the slowest moves: trainer 0 is released
  REQUIRE(r.released == std::vector<std::size_t>{1, 0});
  REQUIRE(r.staleness == 3); // three updates were applied since trainer 1 read version 0
  REQUIRE(agg.may_start(0, 3));
}

TEST_CASE("ssp with staleness 0 behaves as bsp", "[ps][aggregator][ssp]") {
  aggregator_core ssp(plain_sgd(config::consistency::ssp, 2, 0), two_params(), {1.f, 1.f, 1.f});
  aggregator_core bsp(plain_sgd(config::consistency::bsp, 2), two_params(), {1.f, 1.f, 1.f});
  const float g0[] = {1.f, 2.f, 3.f}, g1[] = {-1.f, 0.5f, 2.f};
  for (auto* a : {&ssp, &bsp}) {
    REQUIRE(a->push(0, 0, 0, 2, g0).applied == 0);
    REQUIRE_FALSE(a->may_start(0, 1));
    REQUIRE(a->push(1, 0, 0, 2, g1).applied == 1);
  }
  REQUIRE(ssp.params() == bsp.params());
}

TEST_CASE("asp applies every gradient at once and never blocks", "[ps][aggregator][asp]") {
  aggregator_core agg(plain_sgd(config::consistency::asp, 3), two_params(), {0.f, 0.f, 0.f});
  const float g[] = {2.f, 0.f, 0.f};
  for (std::uint64_t c = 0; c < 5; ++c) {
    REQUIRE(agg.may_start(0, c));
    REQUIRE(agg.push(0, c, agg.version(), 1, g).released == std::vector<std::size_t>{0});
  }
  REQUIRE(agg.version() == 5);
  REQUIRE(agg.params()[0] == Approx(-5.0 / 3)); // 5 pushes of 0.5 · (2 / 3 trainers)
  REQUIRE(agg.min_clock() == 0);
  REQUIRE_FALSE(agg.may_start(0, 10)); // beyond the job's last clock
}

TEST_CASE("ssp and asp with a cut global batch weigh each push by its share of it", "[ps][aggregator][asp][balance]") {
  const auto mode = GENERATE(config::consistency::ssp, config::consistency::asp);
  auto o = plain_sgd(mode, 2);
  o.gate.staleness = 2;
  o.global_batch = 64; // job.balance: speed cuts each clock's 2 x 32 samples, here 48 + 16
  aggregator_core agg(o, two_params(), {0.f, 0.f, 0.f});
  const float g[] = {2.f, 0.f, 0.f};
  agg.push(0, 0, agg.version(), 48, g);
  REQUIRE(agg.params()[0] == Approx(-0.75)); // 0.5 · 2 · 48/64
  agg.push(1, 0, agg.version(), 16, g);
  REQUIRE(agg.params()[0] == Approx(-1.0));  // together one bsp step over the 64 samples
  agg.push(0, 1, agg.version(), 0, nullptr); // an empty share moves nothing
  REQUIRE(agg.params()[0] == Approx(-1.0));
  REQUIRE(agg.version() == 2);
}

TEST_CASE("bsp moves buffers by the sample-weighted mean of the trainers' updates, never by the optimizer",
          "[ps][aggregator][bsp][batch_norm]") {
  // Momentum and weight decay would move a buffer treated as a parameter; they must not touch it.
  auto o = plain_sgd(config::consistency::bsp, 2);
  o.optimizer.momentum = 0.9f;
  o.optimizer.weight_decay = 0.1f;
  aggregator_core agg(o, param_and_buffer(), {1.f, 1.f, 0.5f, 2.f});
  // Each trainer read running_mean (0.5, 2) and its forwards moved it to (0.5 + d0, 2 + d1).
  const float g0[] = {1.f, 0.f, 0.25f, -1.f}, g1[] = {4.f, 3.f, 0.75f, 1.f};
  agg.push(0, 0, 0, 1, g0);
  REQUIRE(agg.push(1, 0, 0, 3, g1).applied == 1);
  // Parameters: SGD on the mean gradient (3.25, 2.25) plus weight decay 0.1·p; first momentum step = gradient.
  REQUIRE(agg.params()[0] == Approx(1 - 0.5 * (3.25 + 0.1)));
  REQUIRE(agg.params()[1] == Approx(1 - 0.5 * (2.25 + 0.1)));
  // Buffers: the sample-weighted mean of the trainers' new values (1·(0.75, 1) + 3·(1.25, 3)) / 4.
  REQUIRE(agg.params()[2] == Approx((1 * 0.75 + 3 * 1.25) / 4.0));
  REQUIRE(agg.params()[3] == Approx((1 * 1.0 + 3 * 3.0) / 4.0));
  // The optimizer keeps no state for the buffer (a checkpoint holds none for it).
  const auto state = agg.optimizer().state();
  REQUIRE(state.buffers.size() == 1);
  for (const auto& [name, values] : state.buffers)
    REQUIRE(name.find("running_mean") == std::string::npos);
}

TEST_CASE("ssp and asp move buffers by each push's update weighted 1/N, as gradients",
          "[ps][aggregator][ssp][asp][batch_norm]") {
  const auto mode = GENERATE(config::consistency::ssp, config::consistency::asp);
  aggregator_core agg(plain_sgd(mode, 2, 1), param_and_buffer(), {0.f, 0.f, 0.5f, 2.f});
  const float g0[] = {0.f, 0.f, 0.25f, -1.f}, g1[] = {0.f, 0.f, 0.75f, 1.f};
  agg.push(0, 0, 0, 1, g0);
  REQUIRE(agg.params()[2] == Approx(0.5 + 0.25 / 2));
  REQUIRE(agg.params()[3] == Approx(2 - 1.0 / 2));
  agg.push(1, 0, 0, 3, g1); // read version 0: its update still counts whole, weighted 1/N (not by samples)
  REQUIRE(agg.params()[2] == Approx(0.5 + 0.25 / 2 + 0.75 / 2));
  REQUIRE(agg.params()[3] == Approx(2 - 1.0 / 2 + 1.0 / 2));
}

TEST_CASE("a push whose buffer update is not finite is refused whole", "[ps][aggregator][batch_norm]") {
  aggregator_core agg(plain_sgd(config::consistency::bsp, 1), param_and_buffer(), {1.f, 1.f, 0.5f, 2.f});
  const float g[] = {1.f, 1.f, 0.f, std::numeric_limits<float>::quiet_NaN()};
  const auto out = agg.push(0, 0, 0, 4, g);
  REQUIRE(out.refused);
  REQUIRE(out.nonfinite.params.size() == 1);
  REQUIRE(out.nonfinite.params[0].name == "bn.running_mean");
  REQUIRE(agg.params() == std::vector<float>{1.f, 1.f, 0.5f, 2.f});
}
