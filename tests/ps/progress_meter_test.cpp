#include "ps/progress_meter.hpp"

#include <catch2/catch.hpp>

#include "aggregator_test_util.hpp"

using troupe::ps::trainer_meter;

TEST_CASE("a trainer's meter: share per clock, speed, and each wait as a fraction of the period",
          "[ps][progress_meter][trainer_metrics]") {
  trainer_meter m;
  m.computed(2.0, 40, 10, 0.2); // a balanced cut: 40 samples, then 24
  m.computed(1.0, 24, 6, 0.1);
  m.waited_params(0.3);
  m.waited_batch(0.1);
  m.pushed(1000);
  m.pushed(3000);
  const auto r = m.take(1.0);
  CHECK(r["share"].get<double>() == 32.0); // 64 samples over 2 clocks
  CHECK(r["images_per_s"].get<double>() == Approx(64 / 0.3));
  CHECK(r["loss"].get<double>() == Approx(3.0 / 64));
  CHECK(r["acc"].get<double>() == Approx(16.0 / 64));
  CHECK(r["compute_s"].get<double>() == Approx(0.3));
  CHECK(r["wait_s"].get<double>() == Approx(0.4)); // both waits, as before the split
  CHECK(r["wait_params_s"].get<double>() == Approx(0.3));
  CHECK(r["wait_batch_s"].get<double>() == Approx(0.1));
  CHECK(r["wall_s"].get<double>() == 1.0);
  CHECK(r["wait_params_frac"].get<double>() == Approx(0.3));
  CHECK(r["wait_batch_frac"].get<double>() == Approx(0.1));
  CHECK(r["push_bytes"].get<std::uint64_t>() == 2000);

  SECTION("take() starts the next period from nothing") {
    const auto next = m.take(0.5);
    CHECK(next["share"].get<double>() == 0.0);
    CHECK(next["images_per_s"].get<double>() == 0.0);
    CHECK(next["wait_s"].get<double>() == 0.0);
    CHECK(next["wait_params_frac"].get<double>() == 0.0);
    CHECK(next["wall_s"].get<double>() == 0.5);
  }
  SECTION("a period read shorter than its waits never gives a fraction above 1") {
    m.waited_params(0.6);
    const auto next = m.take(0.5);
    CHECK(next["wall_s"].get<double>() == Approx(0.6));
    CHECK(next["wait_params_frac"].get<double>() == Approx(1.0));
  }
  SECTION("no time at all: fractions 0, not NaN") {
    const auto next = m.take(0.0);
    CHECK(next["wait_params_frac"].get<double>() == 0.0);
    CHECK(next["wait_batch_frac"].get<double>() == 0.0);
  }
}

TEST_CASE("the aggregator's meter leaves late gradients out of its figures and reports their count",
          "[ps][progress_meter][backup]") {
  using namespace troupe;
  auto o = test::plain_sgd(config::consistency::bsp, 2);
  o.backup_trainers = 1;
  ps::aggregator_core agg(o, test::two_params(), {0.f, 0.f, 0.f});
  ps::progress_meter meter;
  const float g[] = {1.f, 1.f, 1.f};
  ps::push p0;
  p0.rank = 0;
  p0.n = 4;
  p0.loss_sum = 2.0; // mean loss 0.5
  p0.correct1 = 4;
  meter.pushed(p0, agg.push(0, 0, 0, 4, g));
  ps::push p1 = p0;
  p1.rank = 1;
  p1.loss_sum = 400.0; // a late gradient's figures must not count
  p1.correct1 = 0;
  const auto late = agg.push(1, 0, 0, 4, g);
  REQUIRE(late.late);
  meter.pushed(p1, late);
  const auto line = meter.take(agg, 1.0, 1.0);
  CHECK(line.fields["loss"].get<double>() == Approx(0.5));
  CHECK(line.fields["acc"].get<double>() == Approx(1.0));
  CHECK(line.fields["images_per_s"].get<double>() == Approx(4.0));
  CHECK(line.fields["late_dropped"].get<std::uint64_t>() == 1);
  CHECK(line.fields["staleness_hist"] == nlohmann::json{{"0", 1}});

  ps::aggregator_core plain(test::plain_sgd(config::consistency::bsp, 2), test::two_params(), {0.f, 0.f, 0.f});
  ps::progress_meter m2;
  m2.pushed(p0, plain.push(0, 0, 0, 4, g));
  CHECK_FALSE(m2.take(plain, 1.0, 1.0).fields.contains("late_dropped")); // only with backup trainers
}
