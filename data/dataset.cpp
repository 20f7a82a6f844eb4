#include "data/dataset.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "data/idx_reader.hpp"

namespace troupe::data {

namespace {

std::string install_hint() {
  return fmt::format("install the data set with `apt-get install dataset-fashion-mnist`, which puts it in {}",
                     fashion_mnist::default_dir);
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw error(fmt::format("{}: {}", path, what));
}

void expect_rank(const std::string& path, const idx_array& a, std::size_t rank, const char* layout) {
  if (a.dims.size() != rank)
    fail(path, fmt::format("expected rank-{} IDX {}, got rank {} (dims {})", rank, layout, a.dims.size(),
                           fmt::join(a.dims, " x ")));
}

/// The float every byte value maps to, so all pixels go through the same arithmetic.
std::array<float, 256> pixel_table(const normalization& norm) {
  std::array<float, 256> table{};
  for (std::size_t v = 0; v < table.size(); ++v)
    table[v] = pixel_value(static_cast<std::uint8_t>(v), norm);
  return table;
}

/// The images and labels files of the train or t10k split in `dir`.
std::array<std::string, 2> fashion_mnist_files(const std::string& dir, bool train) {
  return {fashion_mnist::images_path(dir, train), fashion_mnist::labels_path(dir, train)};
}

} // namespace

std::size_t dataset::image_size() const {
  return channels * height * width;
}

const float* dataset::image(std::size_t i) const {
  TROUPE_ENFORCE(i < n, "dataset::image: index {} is out of range for {} samples", i, n);
  return images.data() + i * image_size();
}

dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, const normalization& norm,
                         std::size_t max_samples, std::size_t num_classes) {
  TROUPE_ENFORCE(num_classes >= 1 && num_classes <= 256,
                 "load_idx_dataset: num_classes must be in 1..256 for byte labels, got {}", num_classes);
  TROUPE_ENFORCE(!norm.enabled || (std::isfinite(norm.mean) && std::isfinite(norm.stddev) && norm.stddev > 0.f),
                 "load_idx_dataset: normalization needs a finite mean and a positive finite "
                 "stddev, got mean {} and stddev {}",
                 norm.mean, norm.stddev);

  const idx_array pixels = read_idx(images_path);
  expect_rank(images_path, pixels, 3, "images (n x height x width)");
  const idx_array classes = read_idx(labels_path);
  expect_rank(labels_path, classes, 1, "labels (n)");

  const std::size_t total = pixels.dims[0];
  if (classes.dims[0] != total)
    fail(labels_path, fmt::format("label count mismatch: {} has {} images but {} has {} labels", images_path, total,
                                  labels_path, classes.dims[0]));
  for (std::size_t i = 0; i < classes.bytes.size(); ++i)
    if (classes.bytes[i] >= num_classes)
      fail(labels_path,
           fmt::format("label {} at index {} is out of range: expected 0 to {}", classes.bytes[i], i, num_classes - 1));

  dataset ds;
  ds.n = max_samples > 0 ? std::min(max_samples, total) : total;
  ds.channels = 1;
  ds.height = pixels.dims[1];
  ds.width = pixels.dims[2];
  ds.num_classes = num_classes;

  const auto table = pixel_table(norm);
  ds.images.resize(ds.n * ds.image_size());
  std::transform(pixels.bytes.begin(), pixels.bytes.begin() + static_cast<std::ptrdiff_t>(ds.images.size()),
                 ds.images.begin(), [&table](std::uint8_t v) { return table[v]; });
  ds.labels.assign(classes.bytes.begin(), classes.bytes.begin() + static_cast<std::ptrdiff_t>(ds.n));
  return ds;
}

void check_fashion_mnist(const std::string& dir, bool train) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail(dir, fmt::format("Fashion-MNIST directory not found; {}", install_hint()));
  for (const auto& file : fashion_mnist_files(dir, train))
    if (!fs::exists(file, ec))
      fail(file, fmt::format("Fashion-MNIST file not found; {}", install_hint()));
}

dataset load_fashion_mnist(const std::string& dir, bool train, const normalization& norm, std::size_t max_samples) {
  check_fashion_mnist(dir, train);
  const auto [images, labels] = fashion_mnist_files(dir, train);
  return load_idx_dataset(images, labels, norm, max_samples, fashion_mnist::num_classes);
}

void gather_batch(const dataset& ds, const std::size_t* indices, std::size_t count, float* images_out,
                  std::int32_t* labels_out) {
  if (count == 0)
    return;
  TROUPE_ENFORCE(indices != nullptr && images_out != nullptr && labels_out != nullptr,
                 "gather_batch: null pointer for {} samples", count);
  const std::size_t size = ds.image_size();
  TROUPE_ENFORCE(ds.images.size() == ds.n * size && ds.labels.size() == ds.n,
                 "gather_batch: inconsistent dataset ({} samples of {} floats, but {} floats and "
                 "{} labels)",
                 ds.n, size, ds.images.size(), ds.labels.size());
  for (std::size_t b = 0; b < count; ++b)
    TROUPE_ENFORCE(indices[b] < ds.n,
                   "gather_batch: index {} at batch position {} is out of range for a data set "
                   "of {} samples",
                   indices[b], b, ds.n);
  for (std::size_t b = 0; b < count; ++b) {
    const float* src = ds.images.data() + indices[b] * size;
    std::copy(src, src + size, images_out + b * size);
    labels_out[b] = ds.labels[indices[b]];
  }
}

} // namespace troupe::data
