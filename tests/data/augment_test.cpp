#include "data/augment.hpp"

#include <cstdint>
#include <cstring>
#include <numeric>
#include <set>
#include <vector>

#include <catch2/catch.hpp>

#include "data/fashion_mnist.hpp"
#include "data/normalization.hpp"

using namespace troupe::data;

namespace {

augment_options crop_flip(std::size_t padding, bool flip) {
  augment_options o;
  o.crop_padding = padding;
  o.horizontal_flip = flip;
  return o;
}

/// 1..n as floats: every pixel distinct, so a moved pixel is visible.
std::vector<float> ramp(std::size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 1.f);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool same_draw(const augment_draw& a, const augment_draw& b) {
  return a.top == b.top && a.left == b.left && a.flip == b.flip;
}

} // namespace

TEST_CASE("a sample's draws depend only on (seed, epoch, index)", "[data][augment]") {
  const auto o = crop_flip(2, true);
  for (std::uint64_t i = 0; i < 200; ++i) {
    // The same question twice, in any order, gets the same answer: there is no stream to advance.
    CHECK(same_draw(draw_augment(o, 7, 3, i), draw_augment(o, 7, 3, i)));
    const auto d = draw_augment(o, 7, 3, i);
    CHECK(d.top <= 4);
    CHECK(d.left <= 4);
  }
  // Another epoch (or seed) redraws: with 5 x 5 x 2 outcomes, about 1 in 50 samples repeats by chance.
  std::size_t same_epoch = 0, same_seed = 0;
  const std::size_t n = 2000;
  for (std::uint64_t i = 0; i < n; ++i) {
    same_epoch += same_draw(draw_augment(o, 7, 3, i), draw_augment(o, 7, 4, i)) ? 1 : 0;
    same_seed += same_draw(draw_augment(o, 7, 3, i), draw_augment(o, 8, 3, i)) ? 1 : 0;
  }
  CHECK(same_epoch < n / 20);
  CHECK(same_seed < n / 20);
  // Keys of neighbouring fields do not collide: (epoch 1, index 0) vs (epoch 0, index 1).
  CHECK(augment_key(1, 1, 0) != augment_key(1, 0, 1));
  CHECK(augment_key(0, 0, 0) != augment_key(1, 0, 0));
}

TEST_CASE("over many samples the flip rate is about one half and every crop offset occurs about equally",
          "[data][augment]") {
  const std::size_t padding = GENERATE(1, 2, 3);
  CAPTURE(padding);
  const auto o = crop_flip(padding, true);
  const std::size_t n = 20000, offsets = 2 * padding + 1;
  std::vector<std::size_t> tops(offsets), lefts(offsets);
  std::size_t flips = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto d = draw_augment(o, 1, 0, i);
    ++tops.at(d.top);
    ++lefts.at(d.left);
    flips += d.flip ? 1 : 0;
  }
  CHECK(flips > n * 48 / 100);
  CHECK(flips < n * 52 / 100);
  // All 2P + 1 offsets appear, each within 10 % of n / (2P + 1) (about 5 standard deviations).
  for (std::size_t k = 0; k < offsets; ++k) {
    CAPTURE(k, tops[k], lefts[k]);
    CHECK(tops[k] * offsets > n * 9 / 10);
    CHECK(tops[k] * offsets < n * 11 / 10);
    CHECK(lefts[k] * offsets > n * 9 / 10);
    CHECK(lefts[k] * offsets < n * 11 / 10);
  }
}

TEST_CASE("turning one transform on or off does not change the other's draws", "[data][augment]") {
  for (std::uint64_t i = 0; i < 100; ++i) {
    const auto both = draw_augment(crop_flip(2, true), 5, 1, i);
    const auto crop = draw_augment(crop_flip(2, false), 5, 1, i);
    const auto flip = draw_augment(crop_flip(0, true), 5, 1, i);
    CHECK((crop.top == both.top && crop.left == both.left && !crop.flip));
    CHECK((flip.top == 0 && flip.left == 0 && flip.flip == both.flip));
  }
}

TEST_CASE("a crop with padding 0 and no flip is the identity", "[data][augment]") {
  const auto in = ramp(2 * 5 * 4);
  std::vector<float> out(in.size(), -1.f);
  crop_and_flip(in.data(), out.data(), 2, 5, 4, 0, augment_draw{}, 9.f);
  CHECK(same_bits(in, out));
  // As does the centre window (P, P) of any padding.
  crop_and_flip(in.data(), out.data(), 2, 5, 4, 3, augment_draw{3, 3, false}, 9.f);
  CHECK(same_bits(in, out));
  // And a batch with augmentation off is left alone.
  auto batch = in;
  const std::size_t idx[2] = {0, 1};
  augment_batch(batch.data(), idx, 2, 1, 5, 4, crop_flip(0, false), 1, 0);
  CHECK(same_bits(in, batch));
}

TEST_CASE("exact pixels of a flip, a known crop offset and both", "[data][augment]") {
  // 1 2 3
  // 4 5 6   (one channel, 3 x 3)
  // 7 8 9
  const auto in = ramp(9);
  std::vector<float> out(9);
  const float f = 0.f;
  SECTION("flip") {
    crop_and_flip(in.data(), out.data(), 1, 3, 3, 0, augment_draw{0, 0, true}, f);
    CHECK(out == std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7});
  }
  SECTION("padding 1, window at top 0, left 2: the image moves down one and left one") {
    crop_and_flip(in.data(), out.data(), 1, 3, 3, 1, augment_draw{0, 2, false}, f);
    CHECK(out == std::vector<float>{f, f, f, 2, 3, f, 5, 6, f});
  }
  SECTION("padding 2, window at top 4, left 0: up two, right two") {
    crop_and_flip(in.data(), out.data(), 1, 3, 3, 2, augment_draw{4, 0, false}, f);
    CHECK(out == std::vector<float>{f, f, 7, f, f, f, f, f, f});
  }
  SECTION("crop, then flip (torchvision's order)") {
    crop_and_flip(in.data(), out.data(), 1, 3, 3, 1, augment_draw{0, 2, true}, f);
    CHECK(out == std::vector<float>{f, f, f, f, 3, 2, f, 6, 5});
  }
  SECTION("every channel moves the same way") {
    const auto two = ramp(18);
    std::vector<float> out2(18);
    crop_and_flip(two.data(), out2.data(), 2, 3, 3, 1, augment_draw{2, 1, false}, -1.f);
    CHECK(out2 == std::vector<float>{4, 5, 6, 7, 8, 9, -1, -1, -1, 13, 14, 15, 16, 17, 18, -1, -1, -1});
  }
}

TEST_CASE("padding with pixel_value(0) equals torchvision's order: augment the raw image, then normalize",
          "[data][augment]") {
  const auto norm = fashion_mnist::normalization(true);
  // A raw 4 x 5 byte image, augmented as bytes with zero padding and then normalized, ...
  std::vector<std::uint8_t> raw(20);
  for (std::size_t i = 0; i < raw.size(); ++i)
    raw[i] = static_cast<std::uint8_t>(13 * i + 7);
  const auto o = [&] {
    auto a = crop_flip(2, true);
    a.fill = pixel_value(0, norm);
    return a;
  }();
  for (std::uint64_t index = 0; index < 40; ++index) {
    const auto d = draw_augment(o, 3, 2, index);
    std::vector<float> raw_f(raw.begin(), raw.end()), moved(20), expected(20);
    crop_and_flip(raw_f.data(), moved.data(), 1, 4, 5, 2, d, 0.f);
    for (std::size_t i = 0; i < moved.size(); ++i)
      expected[i] = pixel_value(static_cast<std::uint8_t>(moved[i]), norm);
    // ... equals the normalized image augmented with the normalized zero as padding, bit for bit.
    std::vector<float> normalized(20);
    for (std::size_t i = 0; i < raw.size(); ++i)
      normalized[i] = pixel_value(raw[i], norm);
    const std::size_t idx = index;
    augment_batch(normalized.data(), &idx, 1, 1, 4, 5, o, 3, 2);
    CHECK(same_bits(normalized, expected));
  }
}

TEST_CASE("augment_batch augments each sample by its own data set index", "[data][augment]") {
  const std::size_t c = 1, h = 6, w = 5, size = c * h * w;
  const auto o = crop_flip(2, true);
  const std::size_t indices[3] = {41, 7, 1000};
  std::vector<float> batch;
  for (std::size_t k = 0; k < 3; ++k) {
    const auto img = ramp(size);
    batch.insert(batch.end(), img.begin(), img.end());
  }
  augment_batch(batch.data(), indices, 3, c, h, w, o, 11, 5);
  std::set<std::vector<float>> distinct;
  for (std::size_t k = 0; k < 3; ++k) {
    const auto img = ramp(size);
    std::vector<float> alone(size);
    crop_and_flip(img.data(), alone.data(), c, h, w, 2, draw_augment(o, 11, 5, indices[k]), 0.f);
    CHECK(same_bits(alone, std::vector<float>(batch.begin() + k * size, batch.begin() + (k + 1) * size)));
    distinct.insert(alone);
  }
  CHECK(distinct.size() > 1);
  REQUIRE_THROWS_WITH(augment_batch(batch.data(), indices, 1, c, h, w, crop_flip(5, false), 1, 0),
                      Catch::Contains("padding 5 is not below the image size 6 x 5"));
}
