// 16-bit floats (fp16, bf16): exact on the values they can hold, round to nearest even otherwise,
// NaN and Inf kept; the bulk (AVX-512) conversions equal the scalar reference bit for bit. Top-k
// picks the largest magnitudes, and error feedback loses nothing: what was sent plus the residual
// is the sum of the gradients.

#include "ps/compression.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "common/error.hpp"

using namespace troupe;
using namespace troupe::ps;
using config::compression;

namespace {

float from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::uint32_t bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

constexpr float inf = std::numeric_limits<float>::infinity();

/// Float bit patterns that cover every class: zeros, subnormals, normals near the 16-bit limits,
/// Inf, quiet and signalling NaNs (with payload only in the low bits), plus random ones.
std::vector<float> awkward_floats() {
  std::vector<float> v = {0.0f,      -0.0f,         1.0f,      -1.0f,    65504.0f, 65519.0f, 65520.0f,
                          -65520.0f, 1e-8f,         -1e-8f,    5.96e-8f, 3e-8f,    6.1e-5f,  inf,
                          -inf,      3.4028235e38f, 1.17e-38f, 1e-40f,   -1e-45f};
  for (std::uint32_t u : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fa00000u, 0x7f80e000u})
    v.push_back(from_bits(u));
  std::mt19937 gen(7);
  for (int i = 0; i < 20000; ++i)
    v.push_back(from_bits(static_cast<std::uint32_t>(gen())));
  std::normal_distribution<float> normal(0.0f, 0.01f);
  for (int i = 0; i < 20000; ++i)
    v.push_back(normal(gen));
  return v;
}

/// Whether `got` (a 16-bit pattern) is x rounded to nearest, ties to an even pattern: no
/// neighbouring pattern of the same sign is closer. `decode` maps patterns to floats.
template <class Decode>
bool nearest_even(float x, std::uint16_t got, Decode decode, std::uint16_t inf_bits) {
  const double want = x;
  const double g = decode(got);
  const auto dist = [&](std::uint16_t h) {
    const double d = decode(h);
    return std::isinf(d) ? std::numeric_limits<double>::infinity() : std::fabs(d - want);
  };
  const std::uint16_t sign = got & 0x8000u, mag = got & 0x7fffu;
  if (std::isinf(g)) { // overflow: x must be at least halfway beyond the largest finite value
    const auto largest = static_cast<std::uint16_t>(sign | (inf_bits - 1));
    const double top = decode(largest), below = decode(static_cast<std::uint16_t>(largest - 1));
    return std::fabs(want) >= std::fabs(top) + (std::fabs(top) - std::fabs(below)) / 2;
  }
  const double here = std::fabs(g - want);
  for (int step : {-1, 1}) {
    const int m = static_cast<int>(mag) + step;
    if (m < 0 || m >= inf_bits)
      continue;
    const double there = dist(static_cast<std::uint16_t>(sign | m));
    if (there < here || (there == here && (mag & 1u)))
      return false;
  }
  return true;
}

} // namespace

TEST_CASE("fp16 holds its own values exactly and rounds others to nearest even", "[ps][compression]") {
  SECTION("every finite fp16 value round-trips, NaN stays NaN") {
    for (std::uint32_t h = 0; h < 0x10000u; ++h) {
      const float f = from_fp16(static_cast<std::uint16_t>(h));
      if (std::isnan(f)) {
        CHECK((h & 0x7c00u) == 0x7c00u);
        CHECK(std::isnan(from_fp16(to_fp16(f))));
        CHECK((to_fp16(f) & 0x8000u) == (h & 0x8000u));
      } else {
        REQUIRE(to_fp16(f) == h);
      }
    }
  }
  SECTION("known roundings") {
    CHECK(to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00u);     // halfway to 1 + 2^-10: to even (1)
    CHECK(to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02u); // halfway between odd and even: up
    CHECK(to_fp16(std::ldexp(1.0f, -24)) == 0x0001u);            // the smallest subnormal
    CHECK(to_fp16(std::ldexp(1.0f, -25)) == 0x0000u);            // half of it: to even (0)
    CHECK(to_fp16(3 * std::ldexp(1.0f, -25)) == 0x0002u);        // 1.5 subnormal units: to 2
    CHECK(to_fp16(65519.0f) == 0x7bffu);                         // below halfway: the largest value
    CHECK(to_fp16(65520.0f) == 0x7c00u);                         // halfway past it: Inf
    CHECK(to_fp16(-inf) == 0xfc00u);
    CHECK(to_fp16(-0.0f) == 0x8000u);
  }
  SECTION("any float goes to a nearest fp16, ties to even") {
    for (const float x : awkward_floats()) {
      if (std::isnan(x)) {
        CHECK(std::isnan(from_fp16(to_fp16(x))));
        continue;
      }
      INFO(x);
      REQUIRE(nearest_even(
          x, to_fp16(x), [](std::uint16_t h) { return from_fp16(h); }, 0x7c00u));
    }
  }
}

TEST_CASE("bf16 holds its own values exactly and rounds others to nearest even", "[ps][compression]") {
  SECTION("every finite bf16 value round-trips, NaN stays NaN") {
    for (std::uint32_t h = 0; h < 0x10000u; ++h) {
      const float f = from_bf16(static_cast<std::uint16_t>(h));
      if (std::isnan(f))
        CHECK(std::isnan(from_bf16(to_bf16(f))));
      else
        REQUIRE(to_bf16(f) == h);
    }
  }
  SECTION("known roundings, and a NaN whose payload is in the dropped half stays NaN") {
    CHECK(to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80u);     // halfway: to even (1)
    CHECK(to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82u); // halfway between odd and even: up
    CHECK(to_bf16(3.4028235e38f) == 0x7f80u);                   // FLT_MAX is past the largest bf16's half: Inf
    CHECK(to_bf16(-inf) == 0xff80u);
    CHECK(std::isnan(from_bf16(to_bf16(from_bits(0x7f800001u)))));
    CHECK(std::isnan(from_bf16(to_bf16(from_bits(0xff800001u)))));
    CHECK((to_bf16(from_bits(0xff800001u)) & 0x8000u) == 0x8000u);
    CHECK(std::fabs(from_bf16(to_bf16(1e-40f)) - 1e-40f) <= std::ldexp(1.0f, -134)); // subnormals kept, not flushed
  }
  SECTION("any float goes to a nearest bf16, ties to even") {
    for (const float x : awkward_floats()) {
      if (std::isnan(x)) {
        CHECK(std::isnan(from_bf16(to_bf16(x))));
        continue;
      }
      INFO(x);
      REQUIRE(nearest_even(
          x, to_bf16(x), [](std::uint16_t h) { return from_bf16(h); }, 0x7f80u));
    }
  }
}

TEST_CASE("the bulk conversions equal the scalar ones bit for bit", "[ps][compression]") {
  // 16 at a time with AVX-512 where compiled for it, the rest one by one: lengths around that.
  const auto floats = awkward_floats();
  for (const std::size_t n : {std::size_t{0}, std::size_t{5}, std::size_t{16}, std::size_t{37}, floats.size()}) {
    std::vector<std::uint16_t> fp16(n), bf16(n);
    to_fp16(floats.data(), n, fp16.data());
    to_bf16(floats.data(), n, bf16.data());
    for (std::size_t i = 0; i < n; ++i) {
      INFO(i << ": " << floats[i] << " bits " << std::hex << bits(floats[i]));
      REQUIRE(fp16[i] == to_fp16(floats[i]));
      REQUIRE(bf16[i] == to_bf16(floats[i]));
    }
  }
  std::vector<std::uint16_t> all(0x10000);
  for (std::size_t h = 0; h < all.size(); ++h)
    all[h] = static_cast<std::uint16_t>(h);
  std::vector<float> out(all.size());
  from_fp16(all.data(), all.size(), out.data());
  for (std::size_t h = 0; h < all.size(); ++h) {
    INFO(std::hex << h);
    REQUIRE(bits(out[h]) == bits(from_fp16(all[h])));
  }
  from_bf16(all.data(), all.size(), out.data());
  for (std::size_t h = 0; h < all.size(); ++h)
    REQUIRE(bits(out[h]) == bits(from_bf16(all[h])));
}

TEST_CASE("top-k picks the entries of largest magnitude, in position order", "[ps][compression][topk]") {
  CHECK(topk_count(0, 0.01) == 0);
  CHECK(topk_count(10, 0.01) == 1); // at least one
  CHECK(topk_count(225034, 0.01) == 2251);
  CHECK(topk_count(10, 1.0) == 10);
  const std::vector<float> v = {0.1f, -5.0f, 3.0f, 0.0f, -3.0f, 4.0f, 0.2f};
  CHECK(topk_positions(v.data(), v.size(), 2) == std::vector<std::int32_t>{1, 5});
  CHECK(topk_positions(v.data(), v.size(), 3) == std::vector<std::int32_t>{1, 2, 5}); // |3| = |-3|: the lower position
  CHECK(topk_positions(v.data(), v.size(), 7) == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6});
  CHECK(topk_positions(v.data(), v.size(), 0).empty());
  const std::vector<float> broken = {1.0f, std::nanf(""), -inf, 2.0f};
  CHECK(topk_positions(broken.data(), broken.size(), 2) == std::vector<std::int32_t>{1, 2}); // NaN counts as largest

  std::mt19937 gen(3);
  std::normal_distribution<float> normal;
  std::vector<float> big(5000);
  for (auto& x : big)
    x = normal(gen);
  const auto top = topk_positions(big.data(), big.size(), 50);
  REQUIRE(top.size() == 50);
  float smallest_taken = inf;
  const std::set<std::int32_t> taken(top.begin(), top.end());
  for (std::size_t j = 0; j < top.size(); ++j) {
    if (j > 0)
      REQUIRE(top[j] > top[j - 1]);
    smallest_taken = std::min(smallest_taken, std::fabs(big[static_cast<std::size_t>(top[j])]));
  }
  for (std::size_t i = 0; i < big.size(); ++i)
    if (taken.count(static_cast<std::int32_t>(i)) == 0)
      REQUIRE(std::fabs(big[i]) <= smallest_taken);
}

namespace {

/// The dense vector the aggregator decodes from a packed one.
std::vector<float> decoded(const packed_f32& p) {
  std::vector<float> out(p.size, 0.0f);
  if (p.mode == compression::fp16)
    from_fp16(p.halves->data(), p.size, out.data());
  else if (p.mode == compression::bf16)
    from_bf16(p.halves->data(), p.size, out.data());
  else
    for (std::size_t j = 0; j < p.index->size(); ++j)
      out[static_cast<std::size_t>((*p.index)[j])] = (*p.values)[j];
  return out;
}

} // namespace

TEST_CASE("error feedback loses nothing: what was sent plus the residual is the sum of the gradients",
          "[ps][compression][error_feedback]") {
  const auto mode = GENERATE(compression::fp16, compression::bf16, compression::topk);
  CAPTURE(config::to_string(mode));
  const std::size_t n = 200, steps = 300;
  std::mt19937 gen(11);

  SECTION("dyadic gradients: every sum is exact, so the equality is exact") {
    // Multiples of 2^-12 below 2^3: fp16 and bf16 cannot hold most of them, yet every sum and
    // difference here is exact in float.
    std::uniform_int_distribution<int> units(-(1 << 14), 1 << 14);
    gradient_compressor c({mode, 0.05}, n);
    std::vector<float> sent(n, 0.0f), total(n, 0.0f);
    for (std::size_t s = 0; s < steps; ++s) {
      std::vector<float> g(n);
      for (auto& x : g)
        x = std::ldexp(static_cast<float>(units(gen)), -12);
      const auto p = c.compress(g.data());
      REQUIRE(p.mode == mode);
      const auto d = decoded(p);
      for (std::size_t i = 0; i < n; ++i) {
        sent[i] += d[i];
        total[i] += g[i];
      }
    }
    for (std::size_t i = 0; i < n; ++i)
      REQUIRE(sent[i] + c.residual()[i] == total[i]);
  }

  SECTION("random gradients: equal up to float rounding of the running sums") {
    std::normal_distribution<float> normal(0.0f, 1e-3f);
    gradient_compressor c({mode, 0.02}, n);
    std::vector<double> sent(n, 0.0), total(n, 0.0);
    for (std::size_t s = 0; s < steps; ++s) {
      std::vector<float> g(n);
      for (auto& x : g)
        x = normal(gen);
      const auto p = c.compress(g.data());
      if (mode == compression::topk) {
        REQUIRE(p.index->size() == topk_count(n, 0.02));
        REQUIRE(p.bytes() == p.index->size() * 8);
      } else {
        REQUIRE(p.bytes() == n * 2);
      }
      const auto d = decoded(p);
      for (std::size_t i = 0; i < n; ++i) {
        sent[i] += d[i];
        total[i] += g[i];
      }
    }
    double worst = 0;
    for (std::size_t i = 0; i < n; ++i)
      worst = std::max(worst, std::fabs(sent[i] + c.residual()[i] - total[i]));
    INFO("worst |sent + residual - sum| " << worst);
    REQUIRE(worst < 1e-6); // the sums are of order 1e-2; float rounding of g + r is ~1e-9 per step
    if (mode == compression::topk)
      REQUIRE(c.residual_norm() > 0); // top-4 of 200 carries a lot over
    const double norm = c.residual_norm();
    REQUIRE(c.reset() == norm);
    REQUIRE(c.residual_norm() == 0);
  }

  SECTION("a non-finite gradient is sent, and leaves nothing non-finite behind") {
    gradient_compressor c({mode, 0.01}, n);
    std::vector<float> g(n, 1e-3f);
    g[7] = std::nanf("");
    g[9] = inf;
    const auto d = decoded(c.compress(g.data()));
    CHECK(std::isnan(d[7]));
    for (const float r : c.residual())
      REQUIRE(std::isfinite(r));
  }
}

TEST_CASE("top-k with error feedback sends the largest entries of gradient plus residual", "[ps][compression][topk]") {
  gradient_compressor c({compression::topk, 0.25}, 4); // one entry per push
  const std::vector<float> g = {1.0f, 0.9f, 0.0f, -0.5f};
  auto p = c.compress(g.data());
  CHECK(*p.index == std::vector<std::int32_t>{0});
  CHECK(c.residual() == std::vector<float>{0.0f, 0.9f, 0.0f, -0.5f});
  p = c.compress(g.data()); // 1, 1.8, 0, -1: the carried 0.9 now wins
  CHECK(*p.index == std::vector<std::int32_t>{1});
  CHECK(*p.values == std::vector<float>{1.8f});
  CHECK(c.residual() == std::vector<float>{1.0f, 0.0f, 0.0f, -1.0f});
  CHECK_THROWS_AS(gradient_compressor({compression::none, 0.01}, 4), troupe::error);
}

TEST_CASE("a packed vector cut into shard ranges holds each range as if packed alone", "[ps][compression][shards]") {
  std::vector<float> v(40);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = std::sin(0.7f * static_cast<float>(i)) * static_cast<float>(i % 7);
  const auto halves = pack_halves(v.data(), v.size(), compression::fp16);
  const auto part = slice_packed(halves, 13, 29);
  REQUIRE(part.size == 16);
  REQUIRE(*part.halves == *pack_halves(v.data() + 13, 16, compression::fp16).halves);

  config::compression_spec spec;
  spec.mode = compression::topk;
  spec.ratio = 0.25;
  gradient_compressor c(spec, v.size());
  const auto whole = c.compress(v.data());
  std::size_t kept = 0;
  for (auto [b, e] : std::vector<std::pair<std::size_t, std::size_t>>{{0, 13}, {13, 29}, {29, 40}}) {
    const auto p = slice_packed(whole, b, e);
    REQUIRE(p.size == e - b);
    REQUIRE(p.index->size() == p.values->size());
    for (std::size_t j = 0; j < p.index->size(); ++j) {
      const auto local = static_cast<std::size_t>((*p.index)[j]);
      REQUIRE(local < e - b);
      if (j > 0)
        REQUIRE((*p.index)[j] > (*p.index)[j - 1]);
      REQUIRE((*p.values)[j] == v[b + local]); // the same entry, re-based to the range
    }
    kept += p.index->size();
  }
  REQUIRE(kept == whole.index->size()); // every entry lands in exactly one range
  REQUIRE_THROWS_WITH(slice_packed(whole, 30, 41), Catch::Contains("range [30, 41)"));
}
