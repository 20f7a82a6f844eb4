#include "data/fashion_mnist.hpp"

#include <filesystem>

namespace troupe::data::fashion_mnist {

std::string images_path(const std::string& dir, bool train) {
  return (std::filesystem::path(dir) / (train ? train_images_file : test_images_file)).string();
}

std::string labels_path(const std::string& dir, bool train) {
  return (std::filesystem::path(dir) / (train ? train_labels_file : test_labels_file)).string();
}

} // namespace troupe::data::fashion_mnist
