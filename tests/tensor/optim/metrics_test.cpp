#include "tensor/optim/metrics.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

#include "error_message.hpp"

using Catch::Matchers::Contains;
using troupe::optim::average_meter;
using troupe::optim::topk_correct;
using troupe::optim::test::error_message;

TEST_CASE("optim metrics: top-k counts labels ranked below k", "[tensor][metrics]") {
  // 3 samples, 6 classes.
  const std::vector<float> logits{
      0.1f, 0.9f, 0.3f, 0.2f, 0.0f, 0.5f, // order: 1, 5, 2, 3, 0, 4
      2.0f, 1.0f, 0.0f, 3.0f, 4.0f, 5.0f, // order: 5, 4, 3, 0, 1, 2
      1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, // all tied: order 0, 1, 2, 3, 4, 5
  };
  SECTION("argmax labels") {
    const std::vector<std::int32_t> labels{1, 5, 0};
    CHECK(topk_correct(logits.data(), labels.data(), 3, 6, 1) == 3);
  }
  SECTION("labels ranked last (rank 5)") {
    const std::vector<std::int32_t> labels{4, 2, 5};
    CHECK(topk_correct(logits.data(), labels.data(), 3, 6, 1) == 0);
    CHECK(topk_correct(logits.data(), labels.data(), 3, 6, 5) == 0);
    CHECK(topk_correct(logits.data(), labels.data(), 3, 6, 6) == 3);
  }
  SECTION("labels at ranks 2, 3 and 4") {
    const std::vector<std::int32_t> labels{2, 0, 4};
    CHECK(topk_correct(logits.data(), labels.data(), 3, 6, 1) == 0);
    CHECK(topk_correct(logits.data(), labels.data(), 3, 6, 3) == 1);
    CHECK(topk_correct(logits.data(), labels.data(), 3, 6, 5) == 3);
  }
  SECTION("k larger than the number of classes counts every sample") {
    const std::vector<std::int32_t> labels{4, 2, 5};
    CHECK(topk_correct(logits.data(), labels.data(), 3, 6, 10) == 3);
  }
}

TEST_CASE("optim metrics: ties favour the lower class index", "[tensor][metrics]") {
  // Classes 1 and 3 tie for the maximum: top-1 is class 1 (first occurrence), class 3 is rank 1.
  const std::vector<float> logits{0.0f, 7.0f, 2.0f, 7.0f};
  const std::vector<std::int32_t> first{1};
  const std::vector<std::int32_t> second{3};
  CHECK(topk_correct(logits.data(), first.data(), 1, 4, 1) == 1);
  CHECK(topk_correct(logits.data(), second.data(), 1, 4, 1) == 0);
  CHECK(topk_correct(logits.data(), second.data(), 1, 4, 2) == 1);
}

TEST_CASE("optim metrics: NaN logits count against the sample", "[tensor][metrics]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> logits{
      nan, 1.0f, // label 0 is NaN: never correct, whatever k
      nan, 0.5f, // label 1 ranks below the NaN: rank 1
  };
  const std::vector<std::int32_t> labels{0, 1};
  CHECK(topk_correct(logits.data(), labels.data(), 2, 2, 1) == 0);
  CHECK(topk_correct(logits.data(), labels.data(), 2, 2, 2) == 1);
}

TEST_CASE("optim metrics: bad labels and arguments throw", "[tensor][metrics]") {
  const std::vector<float> logits{0.0f, 1.0f, 0.0f, 1.0f};
  SECTION("label == classes") {
    const std::vector<std::int32_t> labels{0, 2};
    CHECK_THAT(error_message([&] { topk_correct(logits.data(), labels.data(), 2, 2, 1); }),
               Contains("label 2 of sample 1 is outside [0, 2)"));
  }
  SECTION("negative label") {
    const std::vector<std::int32_t> labels{-1, 0};
    CHECK_THAT(error_message([&] { topk_correct(logits.data(), labels.data(), 2, 2, 1); }),
               Contains("label -1 of sample 0"));
  }
  SECTION("k == 0") {
    const std::vector<std::int32_t> labels{0, 0};
    CHECK_THAT(error_message([&] { topk_correct(logits.data(), labels.data(), 2, 2, 0); }), Contains("k must be > 0"));
  }
  SECTION("no samples is fine") {
    CHECK(topk_correct(nullptr, nullptr, 0, 0, 1) == 0);
  }
}

TEST_CASE("optim metrics: average_meter keeps the last value and the weighted average", "[tensor][metrics]") {
  average_meter meter("loss");
  CHECK(meter.name() == "loss");
  CHECK(meter.count() == 0);
  CHECK(meter.avg() == 0.0);

  meter.update(2.0, 3); // sum 6, count 3
  meter.update(4.0, 1); // sum 10, count 4
  meter.update(1.0);    // sum 11, count 5
  CHECK(meter.val() == 1.0);
  CHECK(meter.sum() == 11.0);
  CHECK(meter.count() == 5);
  CHECK(meter.avg() == Approx(11.0 / 5.0));

  meter.reset();
  CHECK(meter.val() == 0.0);
  CHECK(meter.sum() == 0.0);
  CHECK(meter.count() == 0);
  CHECK(meter.avg() == 0.0);
  meter.update(0.5, 2);
  CHECK(meter.avg() == 0.5);
}
