#include "tensor/optim/lr_schedule.hpp"

#include <catch2/catch.hpp>

#include "error_message.hpp"

using Catch::Matchers::Contains;
using troupe::optim::lr_schedule;
using troupe::optim::lr_schedule_options;
using troupe::optim::test::error_message;

namespace {

lr_schedule_options options(const char* kind, float base_lr) {
  lr_schedule_options o;
  o.kind = kind;
  o.base_lr = base_lr;
  return o;
}

} // namespace

TEST_CASE("optim lr_schedule: constant ignores the step", "[tensor][lr_schedule]") {
  const lr_schedule s(options("constant", 0.25f));
  CHECK(s.lr_at(0, 100, 1000) == 0.25f);
  CHECK(s.lr_at(999999, 0, 0) == 0.25f);
}

TEST_CASE("optim lr_schedule: step decay multiplies by gamma every step_epochs epochs", "[tensor][lr_schedule]") {
  const lr_schedule s(options("step", 0.01f)); // step_epochs 30, gamma 0.1
  constexpr std::size_t per_epoch = 100;
  // epoch = global_step / 100;  lr = 0.01 * 0.1^(epoch / 30)
  CHECK(s.lr_at(0, per_epoch, 0) == Approx(0.01));             // epoch 0
  CHECK(s.lr_at(29 * 100, per_epoch, 0) == Approx(0.01));      // epoch 29
  CHECK(s.lr_at(29 * 100 + 99, per_epoch, 0) == Approx(0.01)); // still epoch 29
  CHECK(s.lr_at(30 * 100, per_epoch, 0) == Approx(0.001));     // epoch 30
  CHECK(s.lr_at(60 * 100, per_epoch, 0) == Approx(0.0001));    // epoch 60
  CHECK_THAT(error_message([&] { s.lr_at(0, 0, 0); }), Contains("steps_per_epoch > 0"));
}

TEST_CASE("optim lr_schedule: cosine runs from base to min", "[tensor][lr_schedule]") {
  auto o = options("cosine", 0.1f);
  o.min_lr = 0.001f;
  const lr_schedule s(o);
  CHECK(s.lr_at(0, 1, 1000) == Approx(0.1));
  // Midpoint: min + (base - min) * (1 + cos(pi/2)) / 2 = 0.001 + 0.099/2 = 0.0505
  CHECK(s.lr_at(500, 1, 1000) == Approx(0.0505));
  // A quarter: 0.001 + 0.099 * (1 + cos(pi/4)) / 2 = 0.001 + 0.099 * 0.8535534 = 0.0855018
  CHECK(s.lr_at(250, 1, 1000) == Approx(0.0855018).epsilon(1e-5));
  CHECK(s.lr_at(1000, 1, 1000) == Approx(0.001));
  CHECK(s.lr_at(5000, 1, 1000) == Approx(0.001)); // Clamped past the end.
  CHECK_THAT(error_message([&] { s.lr_at(0, 1, 0); }), Contains("total_steps (0) > warmup_steps (0)"));
}

TEST_CASE("optim lr_schedule: linear warm-up ramps from start factor to 1", "[tensor][lr_schedule]") {
  SECTION("constant") {
    auto o = options("constant", 1.0f);
    o.warmup_steps = 10;
    o.warmup_start_factor = 0.1f;
    const lr_schedule s(o);
    // factor = 0.1 + 0.9 * step / 10
    CHECK(s.lr_at(0, 1, 100) == Approx(0.1));
    CHECK(s.lr_at(5, 1, 100) == Approx(0.55));
    CHECK(s.lr_at(9, 1, 100) == Approx(0.91));
    CHECK(s.lr_at(10, 1, 100) == Approx(1.0));
    CHECK(s.lr_at(50, 1, 100) == Approx(1.0));
  }
  SECTION("cosine starts decaying when the warm-up ends") {
    auto o = options("cosine", 0.2f);
    o.warmup_steps = 100;
    o.warmup_start_factor = 0.0f;
    const lr_schedule s(o);
    // Warm-up: cosine is at base (t clamped to 0), times step / 100.
    CHECK(s.lr_at(0, 1, 1100) == 0.0f);
    CHECK(s.lr_at(50, 1, 1100) == Approx(0.1));
    CHECK(s.lr_at(100, 1, 1100) == Approx(0.2));
    // T = 1000: step 600 is the midpoint, 0.2 * (1 + cos(pi/2)) / 2 = 0.1
    CHECK(s.lr_at(600, 1, 1100) == Approx(0.1));
    CHECK(s.lr_at(1100, 1, 1100) == Approx(0.0).margin(1e-12));
  }
  SECTION("step decay") {
    auto o = options("step", 0.01f);
    o.warmup_steps = 4;
    o.warmup_start_factor = 0.5f;
    const lr_schedule s(o);
    CHECK(s.lr_at(0, 2, 0) == Approx(0.005));  // 0.01 * 0.5
    CHECK(s.lr_at(2, 2, 0) == Approx(0.0075)); // 0.01 * (0.5 + 0.5 * 2/4)
    CHECK(s.lr_at(4, 2, 0) == Approx(0.01));
  }
}

TEST_CASE("optim lr_schedule: invalid options are rejected", "[tensor][lr_schedule]") {
  SECTION("unknown kind lists the valid ones") {
    CHECK_THAT(error_message([] { lr_schedule{options("linear", 0.1f)}; }),
               Contains("unknown kind 'linear'") && Contains("constant, step, cosine"));
  }
  SECTION("negative base_lr") {
    CHECK_THAT(error_message([] { lr_schedule{options("constant", -0.1f)}; }), Contains("base_lr"));
  }
  SECTION("negative gamma") {
    auto o = options("step", 0.1f);
    o.gamma = -0.5f;
    CHECK_THAT(error_message([&] { lr_schedule{o}; }), Contains("gamma"));
  }
  SECTION("zero step_epochs") {
    auto o = options("step", 0.1f);
    o.step_epochs = 0;
    CHECK_THAT(error_message([&] { lr_schedule{o}; }), Contains("step_epochs"));
  }
  SECTION("min_lr above base_lr") {
    auto o = options("cosine", 0.1f);
    o.min_lr = 0.2f;
    CHECK_THAT(error_message([&] { lr_schedule{o}; }), Contains("min_lr"));
  }
  SECTION("warm-up start factor above 1") {
    auto o = options("constant", 0.1f);
    o.warmup_start_factor = 1.5f;
    CHECK_THAT(error_message([&] { lr_schedule{o}; }), Contains("warmup_start_factor"));
  }
}
