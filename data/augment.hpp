#pragma once
/// Training-time augmentation of CHW float images, as torchvision's
/// Compose([RandomCrop(size = image, padding = P), RandomHorizontalFlip(p = 0.5)]): zero-pad P pixels
/// on every side, take an H x W window at a random offset, then mirror left-right half of the time.
///
/// Randomness is counter-based, not a stream: a sample's draws are splitmix64 outputs at counters
/// 0, 1, 2 of a key hashed from (job seed, epoch, sample index) alone. So a sample looks the same
/// whichever batch, trainer or loader (a restarted one included) serves it, and in whatever order;
/// only another seed or epoch changes it.
///
/// Order with normalization. The loader's images are normalized when loaded (pixel_value). A crop
/// and a flip only move pixels, and per-pixel normalization commutes with moving pixels, so
/// augmenting the normalized image with padding `fill` = pixel_value(0, norm) (what a zero byte
/// becomes) gives, bit for bit, torchvision's order: augment the raw image (zero padding), then
/// normalize.

#include <cstddef>
#include <cstdint>

namespace troupe::data {

struct augment_options {
  std::size_t crop_padding = 0; ///< random crop after padding this many pixels per side; 0 = no crop
  bool horizontal_flip = false; ///< mirror left-right with probability 0.5
  float fill = 0.f;             ///< the padding value: pixel_value(0, norm) for the data set's normalization

  /// Whether any image can change (a crop with padding 0 is the identity).
  bool enabled() const { return crop_padding > 0 || horizontal_flip; }
};

/// What augmentation does to one sample.
struct augment_draw {
  std::size_t top = 0, left = 0; ///< the window's corner in the padded image, each in [0, 2P]; (P, P) = no shift
  bool flip = false;             ///< mirrored after the crop
};

/// The key of sample `index` of epoch `epoch` in a job seeded `seed` (a hash; distinct from the
/// epoch permutation's seeding, so shuffling and augmentation do not share draws).
std::uint64_t augment_key(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index);

/// The draws of that sample: top from counter 0, left from counter 1 (each uniform in [0, 2P] by a
/// 64 x 64 -> 128-bit multiply-high, bias at most (2P + 1) / 2^64), flip from the top bit of counter 2. The counters
/// are fixed, so turning the flip on or off does not move any crop, and the reverse.
augment_draw draw_augment(const augment_options& o, std::uint64_t seed, std::uint64_t epoch, std::uint64_t index);

/// Writes `in` (channels x height x width) cropped at `d` from its `padding`-padded form (outside
/// the image: `fill`) and mirrored when d.flip, to `out` (same shape; must not overlap `in`):
///   out[c][y][x] = padded[c][y + top][x' + left], x' = flip ? width - 1 - x : x.
void crop_and_flip(const float* in, float* out, std::size_t channels, std::size_t height, std::size_t width,
                   std::size_t padding, const augment_draw& d, float fill);

/// Augments a gathered batch in place: sample b (count samples of channels x height x width floats)
/// is data set sample indices[b], augmented by its draws for (seed, epoch). Nothing happens unless
/// o.enabled().
void augment_batch(float* images, const std::size_t* indices, std::size_t count, std::size_t channels,
                   std::size_t height, std::size_t width, const augment_options& o, std::uint64_t seed,
                   std::uint64_t epoch);

} // namespace troupe::data
