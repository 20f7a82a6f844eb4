#include "ps/loader_batch.hpp"

#include <memory>
#include <utility>
#include <vector>

namespace troupe::ps {

data::augment_options loader_augment(const config::augment_spec& spec, const data::normalization& norm) {
  data::augment_options o;
  o.crop_padding = spec.crop_padding;
  o.horizontal_flip = spec.horizontal_flip;
  o.fill = data::pixel_value(0, norm);
  return o;
}

batch make_batch(const data::dataset& train, const batch_plan& plan, std::size_t steps_per_epoch,
                 const data::augment_options& augment, std::uint64_t seed) {
  const std::size_t n = plan.indices.size(), image = train.image_size();
  batch b;
  b.clock = plan.epoch * steps_per_epoch + plan.step;
  b.epoch = plan.epoch;
  b.step = plan.step;
  b.n = n;
  if (n == 0)
    return b;
  auto images = std::make_shared<std::vector<float>>(n * image);
  auto labels = std::make_shared<std::vector<std::int32_t>>(n);
  data::gather_batch(train, plan.indices.data(), n, images->data(), labels->data());
  data::augment_batch(images->data(), plan.indices.data(), n, train.channels, train.height, train.width, augment, seed,
                      plan.epoch);
  b.image_shape = {static_cast<std::uint32_t>(train.channels), static_cast<std::uint32_t>(train.height),
                   static_cast<std::uint32_t>(train.width)};
  b.images_out = std::move(images);
  b.labels_out = std::move(labels);
  return b;
}

} // namespace troupe::ps
