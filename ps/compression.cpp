#include "ps/compression.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "common/error.hpp"

namespace troupe::ps {

namespace {

std::uint32_t bits_of(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

float float_of(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

} // namespace

// fp16 after F. Giesen, "float->half variants" (float_to_half_fast3_rtne, half_to_float): the
// integer steps below are IEEE round-to-nearest-even; only the subnormal branch uses one float
// addition, which rounds to nearest even in the default floating-point environment.
std::uint16_t to_fp16(float x) {
  const std::uint32_t u = bits_of(x);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  std::uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) // NaN: quiet, sign and the top 9 bits of the payload kept (as VCVTPS2PH does)
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u) // 65520 and up (and Inf): halfway above 65504 rounds to even, which is Inf
    return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (a < 0x38800000u) { // below 2^-14: a subnormal half or zero
    // Adding 0.5 puts the 10 bits of a half subnormal at the bottom of the mantissa, rounded.
    const float aligned = float_of(a) + 0.5f;
    return static_cast<std::uint16_t>(sign | (bits_of(aligned) - 0x3f000000u));
  }
  const std::uint32_t odd = (a >> 13) & 1u;
  a += 0xc8000fffu + odd; // rebias the exponent (127 -> 15) and round to nearest even
  return static_cast<std::uint16_t>(sign | (a >> 13));
}

float from_fp16(std::uint16_t h) {
  std::uint32_t o = static_cast<std::uint32_t>(h & 0x7fffu) << 13;
  const std::uint32_t exp = o & 0x0f800000u;
  o += (127u - 15u) << 23;
  if (exp == 0x0f800000u) {  // Inf or NaN
    o += (128u - 16u) << 23; // exponent all ones
    if (o & 0x007fffffu)
      o |= 0x00400000u;  // a NaN comes out quiet (as VCVTPH2PS does)
  } else if (exp == 0) { // zero or subnormal: renormalise through one exact float subtraction
    o = bits_of(float_of(o + (1u << 23)) - float_of(113u << 23));
  }
  return float_of(o | (static_cast<std::uint32_t>(h & 0x8000u) << 16));
}

std::uint16_t to_bf16(float x) {
  const std::uint32_t u = bits_of(x);
  const auto nan = static_cast<std::uint16_t>((u >> 16) | 0x0040u); // quiet, sign and payload top kept
  const auto rounded = static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  return (u & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
}

float from_bf16(std::uint16_t h) {
  return float_of(static_cast<std::uint32_t>(h) << 16);
}

void to_fp16(const float* in, std::size_t n, std::uint16_t* out) {
  std::size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    // The zero-masked forms: GCC 12 warns about the undefined source of the unmasked ones.
    const __m256i h =
        _mm512_maskz_cvtps_ph(0xffff, _mm512_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), h);
  }
#endif
  for (; i < n; ++i)
    out[i] = to_fp16(in[i]);
}

void from_fp16(const std::uint16_t* in, std::size_t n, float* out) {
  std::size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i,
                     _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i))));
#endif
  for (; i < n; ++i)
    out[i] = from_fp16(in[i]);
}

// The bf16 conversions are branch-free integer steps the compiler vectorises. (AVX512_BF16's
// VCVTNEPS2BF16 flushes subnormals to zero, so it is not used.)
void to_bf16(const float* in, std::size_t n, std::uint16_t* out) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = to_bf16(in[i]);
}

void from_bf16(const std::uint16_t* in, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = from_bf16(in[i]);
}

std::size_t topk_count(std::size_t n, double ratio) {
  if (n == 0)
    return 0;
  const double k = std::ceil(ratio * static_cast<double>(n));
  return std::clamp<std::size_t>(k < 1 ? 1 : static_cast<std::size_t>(k), 1, n);
}

std::vector<std::int32_t> topk_positions(const float* v, std::size_t n, std::size_t k) {
  TROUPE_ENFORCE(n <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                 "top-k of {} entries: positions travel as 32-bit integers", n);
  TROUPE_ENFORCE(k <= n, "top-{} of {} entries", k, n);
  std::vector<float> key(n);
  for (std::size_t i = 0; i < n; ++i) // NaN first: a total order (std::nth_element needs one)
    key[i] = std::isnan(v[i]) ? std::numeric_limits<float>::infinity() : std::fabs(v[i]);
  std::vector<std::int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const auto larger = [&](std::int32_t a, std::int32_t b) {
    const float ka = key[static_cast<std::size_t>(a)], kb = key[static_cast<std::size_t>(b)];
    return ka > kb || (ka == kb && a < b);
  };
  if (k < n)
    std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), larger);
  order.resize(k);
  std::sort(order.begin(), order.end());
  return order;
}

std::uint64_t packed_f32::bytes() const {
  std::uint64_t b = 0;
  if (halves)
    b += halves->size() * sizeof(std::uint16_t);
  if (index)
    b += index->size() * sizeof(std::int32_t);
  if (values)
    b += values->size() * sizeof(float);
  return b;
}

packed_f32 slice_packed(const packed_f32& p, std::size_t begin, std::size_t end) {
  TROUPE_ENFORCE(begin <= end && end <= p.size, "range [{}, {}) of a packed vector of {}", begin, end, p.size);
  packed_f32 out;
  out.mode = p.mode;
  out.size = end - begin;
  if (p.halves) {
    out.halves = std::make_shared<const std::vector<std::uint16_t>>(
        p.halves->begin() + static_cast<std::ptrdiff_t>(begin), p.halves->begin() + static_cast<std::ptrdiff_t>(end));
  }
  if (p.index && p.values) {
    auto index = std::make_shared<std::vector<std::int32_t>>();
    auto values = std::make_shared<std::vector<float>>();
    for (std::size_t j = 0; j < p.index->size(); ++j) {
      const auto i = static_cast<std::size_t>((*p.index)[j]);
      if (i >= begin && i < end) {
        index->push_back(static_cast<std::int32_t>(i - begin));
        values->push_back((*p.values)[j]);
      }
    }
    out.index = std::move(index);
    out.values = std::move(values);
  }
  return out;
}

packed_f32 pack_halves(const float* v, std::size_t n, config::compression mode) {
  TROUPE_ENFORCE(mode == config::compression::fp16 || mode == config::compression::bf16,
                 "16-bit floats are fp16 or bf16, not {}", config::to_string(mode));
  auto halves = std::make_shared<std::vector<std::uint16_t>>(n);
  if (mode == config::compression::fp16)
    to_fp16(v, n, halves->data());
  else
    to_bf16(v, n, halves->data());
  packed_f32 p;
  p.mode = mode;
  p.size = n;
  p.halves = std::move(halves);
  return p;
}

gradient_compressor::gradient_compressor(const config::compression_spec& spec, std::size_t size)
    : spec_(spec), residual_(size, 0.0f), sum_(size) {
  TROUPE_ENFORCE(spec.mode != config::compression::none, "a gradient compressor for compression none");
  TROUPE_ENFORCE(spec.ratio > 0 && spec.ratio <= 1, "top-k ratio {} is not in (0, 1]", spec.ratio);
}

packed_f32 gradient_compressor::compress(const float* grad) {
  const std::size_t n = residual_.size();
  for (std::size_t i = 0; i < n; ++i)
    sum_[i] = grad[i] + residual_[i];
  packed_f32 p;
  if (spec_.mode == config::compression::topk) {
    auto index =
        std::make_shared<std::vector<std::int32_t>>(topk_positions(sum_.data(), n, topk_count(n, spec_.ratio)));
    auto values = std::make_shared<std::vector<float>>(index->size());
    residual_ = sum_;
    for (std::size_t j = 0; j < index->size(); ++j) {
      const auto i = static_cast<std::size_t>((*index)[j]);
      (*values)[j] = sum_[i];
      residual_[i] = 0; // sent whole
    }
    p.mode = spec_.mode;
    p.size = n;
    p.index = std::move(index);
    p.values = std::move(values);
  } else {
    p = pack_halves(sum_.data(), n, spec_.mode);
    // The residual is what the aggregator will not see: the sum minus its decoded halves (an exact
    // subtraction: a rounding lies within a factor 2 of the value it rounds).
    if (spec_.mode == config::compression::fp16)
      from_fp16(p.halves->data(), n, residual_.data());
    else
      from_bf16(p.halves->data(), n, residual_.data());
    for (std::size_t i = 0; i < n; ++i)
      residual_[i] = sum_[i] - residual_[i];
  }
  for (auto& r : residual_) // NaN or ±Inf (a broken gradient, an fp16 overflow): nothing to carry
    r = std::isfinite(r) ? r : 0.0f;
  return p;
}

double gradient_compressor::residual_norm() const {
  double s = 0;
  for (const float r : residual_)
    s += static_cast<double>(r) * r;
  return std::sqrt(s);
}

double gradient_compressor::reset() {
  const double norm = residual_norm();
  std::fill(residual_.begin(), residual_.end(), 0.0f);
  return norm;
}

} // namespace troupe::ps
