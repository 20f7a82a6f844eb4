#include "train/model_factory.hpp"

#include "common/error.hpp"
#include "common/rng.hpp"
#include "tensor/nn/layers.hpp"

namespace troupe::train {

std::unique_ptr<nn::sequential> build_model(const config::model_spec& spec, std::uint64_t seed) {
  const auto shapes = config::infer_shapes(spec);
  auto model = std::make_unique<nn::sequential>();
  rng gen(seed);
  std::vector<std::size_t> in = spec.input_shape;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    const auto& l = spec.layers[i];
    const auto init = l.init.empty() ? nn::init_kind::kaiming_uniform : nn::parse_init_kind(l.init);
    if (l.type == "conv2d")
      model->add(
          std::make_unique<nn::conv2d>(in.at(0), l.out_channels, l.kernel, l.stride, l.padding, init, gen, l.bias));
    else if (l.type == "dense")
      model->add(std::make_unique<nn::dense>(in.at(0), l.units, init, gen, l.bias));
    else if (l.type == "maxpool2d")
      model->add(std::make_unique<nn::max_pool2d>(l.kernel, l.stride));
    else if (l.type == "relu")
      model->add(std::make_unique<nn::activation>(nn::activation_kind::relu));
    else if (l.type == "sigmoid")
      model->add(std::make_unique<nn::activation>(nn::activation_kind::sigmoid));
    else if (l.type == "tanh")
      model->add(std::make_unique<nn::activation>(nn::activation_kind::tanh));
    else if (l.type == "flatten")
      model->add(std::make_unique<nn::flatten>());
    else if (l.type == "dropout")
      model->add(std::make_unique<nn::dropout>(l.p, gen.next()));
    else
      throw error(l.where + ": layer type '" + l.type + "' has no implementation");
    in = shapes[i];
  }
  return model;
}

} // namespace troupe::train
