#pragma once
/// Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017), stated once: where the files are, what they are
/// called, the image shape, the classes and the pixel statistics. Loading is data::load_fashion_mnist.

#include <cstddef>
#include <string>

#include "data/normalization.hpp"

namespace troupe::data::fashion_mnist {

/// Where the Debian package dataset-fashion-mnist installs the IDX files.
inline constexpr const char* default_dir = "/usr/share/datasets/fashion-mnist";

/// The four gzip IDX files of the data set, as distributed.
inline constexpr const char* train_images_file = "train-images-idx3-ubyte.gz";
inline constexpr const char* train_labels_file = "train-labels-idx1-ubyte.gz";
inline constexpr const char* test_images_file = "t10k-images-idx3-ubyte.gz";
inline constexpr const char* test_labels_file = "t10k-labels-idx1-ubyte.gz";

/// One sample is a 1 x 28 x 28 grey image (CHW).
inline constexpr std::size_t channels = 1;
inline constexpr std::size_t height = 28;
inline constexpr std::size_t width = 28;
/// Floats per sample: channels * height * width = 784.
inline constexpr std::size_t image_values = channels * height * width;
/// Labels 0..9 (T-shirt/top, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot).
inline constexpr std::size_t num_classes = 10;

/// Mean and standard deviation of the training pixels scaled to [0, 1].
inline constexpr float mean = 0.2860f;
inline constexpr float stddev = 0.3530f;

/// Standardisation with the data set's mean and std when `enabled`, the identity otherwise.
constexpr data::normalization normalization(bool enabled = true) {
  return enabled ? data::normalization{true, mean, stddev} : data::normalization{};
}

/// Path of the images file of the train (true) or t10k (false) split in `dir`.
std::string images_path(const std::string& dir, bool train);

/// Path of the labels file of the train (true) or t10k (false) split in `dir`.
std::string labels_path(const std::string& dir, bool train);

} // namespace troupe::data::fashion_mnist
