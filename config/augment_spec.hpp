#pragma once
/// `job.augment`: training-time augmentation done by the loader (data/augment.hpp), e.g.
///   augment: {random_crop: {padding: 2}, horizontal_flip: true}
/// Both keys are optional; an absent or empty `augment` changes nothing (today's batches, bit for bit).

#include <cstddef>

namespace troupe::config {

class yaml_cursor;

struct augment_spec {
  std::size_t crop_padding = 0; ///< random_crop.padding: pad, then a random crop of the image size; 0 = off
  bool horizontal_flip = false; ///< mirror left-right with probability 0.5

  /// Whether any image can change (random_crop with padding 0 is the identity, so it counts as off).
  bool enabled() const { return crop_padding > 0 || horizontal_flip; }
};

/// Reads and validates `job.augment` at `a`: known keys only, random_crop.padding a non-negative
/// integer below the image size (28: the data set is Fashion-MNIST), horizontal_flip a boolean.
augment_spec read_augment(const yaml_cursor& a);

} // namespace troupe::config
