#include "config/augment_spec.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "config/yaml_util.hpp"
#include "data/fashion_mnist.hpp"

namespace troupe::config {

namespace {

const std::vector<std::string> augment_keys = {"random_crop", "horizontal_flip"};
const std::vector<std::string> random_crop_keys = {"padding"};

} // namespace

augment_spec read_augment(const yaml_cursor& a) {
  augment_spec out;
  a.check_keys(augment_keys);
  if (auto crop = a.find("random_crop")) {
    crop->check_keys(random_crop_keys);
    const yaml_cursor padding = crop->child("padding");
    out.crop_padding = padding.as<std::size_t>(bounds::at_least(0));
    // A window of the image size inside an image padded by P: P >= the size would allow crops of padding only.
    const std::size_t size = std::min(data::fashion_mnist::height, data::fashion_mnist::width);
    if (out.crop_padding >= size)
      padding.fail(fmt::format("padding must be below the image size {} (Fashion-MNIST images are {} x {}), got {}",
                               size, data::fashion_mnist::height, data::fashion_mnist::width, out.crop_padding));
  }
  out.horizontal_flip = a.optional<bool>("horizontal_flip").value_or(out.horizontal_flip);
  return out;
}

} // namespace troupe::config
