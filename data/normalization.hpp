#pragma once
/// Per-pixel standardisation of images already scaled to [0, 1].

#include <cstdint>

namespace troupe::data {

/// Optional per-pixel standardisation applied after scaling to [0, 1]: x' = (x - mean) / stddev.
struct normalization {
  bool enabled = false;
  float mean = 0.f, stddev = 1.f;
};

/// The float a byte pixel `v` becomes: v / 255, then (x - mean) / stddev when `norm.enabled`.
/// Every loaded pixel goes through this arithmetic, and so does augmentation's zero padding.
inline float pixel_value(std::uint8_t v, const normalization& norm) {
  float x = static_cast<float>(v) / 255.f;
  if (norm.enabled)
    x = (x - norm.mean) / norm.stddev;
  return x;
}

} // namespace troupe::data
