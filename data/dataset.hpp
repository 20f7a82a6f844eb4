#pragma once
/// An in-memory image classification data set (NCHW floats + int32 labels) and its loaders.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/fashion_mnist.hpp"
#include "data/normalization.hpp"

namespace troupe::data {

/// fashion_mnist::default_dir under its older name.
inline constexpr const char* default_fashion_mnist_dir = fashion_mnist::default_dir;

/// Images of n samples stored contiguously as NCHW floats, with one class label per sample.
struct dataset {
  std::size_t n = 0, channels = 1, height = 0, width = 0;
  std::size_t num_classes = 0;
  std::vector<float> images;        ///< n * channels * height * width values, NCHW.
  std::vector<std::int32_t> labels; ///< n labels, each in [0, num_classes).

  /// Number of floats in one sample (channels * height * width).
  std::size_t image_size() const;

  /// Pointer to the first float of sample i; throws troupe::error if i >= n.
  const float* image(std::size_t i) const;
};

/// Loads unsigned-byte IDX images (rank 3: n, height, width) and labels (rank 1: n) into a dataset.
///
/// Pixels become x / 255, then (x - mean) / stddev when `norm.enabled`. `max_samples` > 0 keeps
/// only the first max_samples samples. Throws troupe::error naming the file when either file is
/// unreadable or malformed, when the counts disagree or a label is >= num_classes.
dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, const normalization& norm = {},
                         std::size_t max_samples = 0, std::size_t num_classes = 10);

/// Loads the Fashion-MNIST train or t10k split from the gzip IDX files in `dir` (see fashion_mnist.hpp).
///
/// A missing directory or file is reported with its path and how to install the data set
/// (`apt-get install dataset-fashion-mnist`, which fills fashion_mnist::default_dir).
dataset load_fashion_mnist(const std::string& dir, bool train, const normalization& norm = {},
                           std::size_t max_samples = 0);

/// Throws the error load_fashion_mnist gives for a missing directory or file of the split, reading nothing.
void check_fashion_mnist(const std::string& dir, bool train);

/// Copies samples indices[0..count) of ds into a contiguous NCHW batch and its labels.
///
/// `images_out` holds count * ds.image_size() floats and `labels_out` count labels; an index
/// >= ds.n throws troupe::error before anything is written.
void gather_batch(const dataset& ds, const std::size_t* indices, std::size_t count, float* images_out,
                  std::int32_t* labels_out);

} // namespace troupe::data
