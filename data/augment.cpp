#include "data/augment.hpp"

#include <algorithm>
#include <vector>

#include "common/error.hpp"

namespace troupe::data {

namespace {

__extension__ typedef unsigned __int128 uint128; // GCC/Clang extension, silenced for -Wpedantic

constexpr std::uint64_t golden = 0x9e3779b97f4a7c15ULL;
/// Separates augmentation keys from other users of the job seed ("augment" in ASCII).
constexpr std::uint64_t augment_salt = 0x006175676d656e74ULL;

/// splitmix64's output function: a bijection of 64-bit words that mixes every bit into every bit.
std::uint64_t finalize(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// splitmix64 at `counter` of the stream that starts at `key`: counter-based, no state.
std::uint64_t word(std::uint64_t key, std::uint64_t counter) {
  return finalize(key + (counter + 1) * golden);
}

/// A uniform value in [0, bound) from 64 random bits (multiply-high; bias at most bound / 2^64).
std::size_t below(std::uint64_t bits, std::uint64_t bound) {
  return static_cast<std::size_t>((static_cast<uint128>(bits) * bound) >> 64);
}

} // namespace

std::uint64_t augment_key(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index) {
  // Each step is a bijection of its input word, so for one (seed, epoch) distinct samples always
  // get distinct keys; finalizing between the fields keeps (epoch, index) and (index, epoch) apart.
  std::uint64_t h = finalize(seed ^ augment_salt);
  h = finalize(h + golden + epoch);
  return finalize(h + golden + index);
}

augment_draw draw_augment(const augment_options& o, std::uint64_t seed, std::uint64_t epoch, std::uint64_t index) {
  const std::uint64_t key = augment_key(seed, epoch, index);
  augment_draw d;
  const std::uint64_t offsets = 2 * static_cast<std::uint64_t>(o.crop_padding) + 1;
  d.top = below(word(key, 0), offsets);
  d.left = below(word(key, 1), offsets);
  d.flip = o.horizontal_flip && (word(key, 2) >> 63) != 0;
  return d;
}

void crop_and_flip(const float* in, float* out, std::size_t channels, std::size_t height, std::size_t width,
                   std::size_t padding, const augment_draw& d, float fill) {
  TROUPE_ENFORCE(d.top <= 2 * padding && d.left <= 2 * padding,
                 "crop_and_flip: offset ({}, {}) outside [0, {}] for padding {}", d.top, d.left, 2 * padding, padding);
  // Image row of output row y: y + top - P; image column of output column x: x' + left - P.
  // Signed arithmetic, so rows and columns inside the padding come out negative or >= the size.
  const auto h = static_cast<std::ptrdiff_t>(height), w = static_cast<std::ptrdiff_t>(width);
  const auto dy = static_cast<std::ptrdiff_t>(d.top) - static_cast<std::ptrdiff_t>(padding);
  const auto dx = static_cast<std::ptrdiff_t>(d.left) - static_cast<std::ptrdiff_t>(padding);
  for (std::size_t c = 0; c < channels; ++c) {
    const float* plane = in + c * height * width;
    for (std::ptrdiff_t y = 0; y < h; ++y) {
      float* row = out + (c * height + static_cast<std::size_t>(y)) * width;
      const std::ptrdiff_t sy = y + dy;
      if (sy < 0 || sy >= h) {
        std::fill(row, row + width, fill);
        continue;
      }
      const float* src = plane + sy * w;
      for (std::ptrdiff_t x = 0; x < w; ++x) {
        const std::ptrdiff_t sx = (d.flip ? w - 1 - x : x) + dx;
        row[x] = sx < 0 || sx >= w ? fill : src[sx];
      }
    }
  }
}

void augment_batch(float* images, const std::size_t* indices, std::size_t count, std::size_t channels,
                   std::size_t height, std::size_t width, const augment_options& o, std::uint64_t seed,
                   std::uint64_t epoch) {
  if (!o.enabled() || count == 0)
    return;
  TROUPE_ENFORCE(images != nullptr && indices != nullptr, "augment_batch: null pointer for {} samples", count);
  TROUPE_ENFORCE(o.crop_padding < height && o.crop_padding < width,
                 "augment_batch: padding {} is not below the image size {} x {}", o.crop_padding, height, width);
  const std::size_t size = channels * height * width;
  std::vector<float> original(size);
  for (std::size_t b = 0; b < count; ++b) {
    float* image = images + b * size;
    std::copy(image, image + size, original.begin());
    crop_and_flip(original.data(), image, channels, height, width, o.crop_padding,
                  draw_augment(o, seed, epoch, indices[b]), o.fill);
  }
}

} // namespace troupe::data
