#pragma once
/// Per-pixel standardisation of images already scaled to [0, 1].

namespace troupe::data {

/// Optional per-pixel standardisation applied after scaling to [0, 1]: x' = (x - mean) / stddev.
struct normalization {
  bool enabled = false;
  float mean = 0.f, stddev = 1.f;
};

} // namespace troupe::data
