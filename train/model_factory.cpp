#include "train/model_factory.hpp"

#include "common/error.hpp"
#include "common/rng.hpp"
#include "config/model_graph.hpp"
#include "tensor/nn/batch_norm.hpp"
#include "tensor/nn/graph.hpp"
#include "tensor/nn/layers.hpp"
#include "tensor/nn/sequential.hpp"

namespace troupe::train {

namespace {

/// The module of layer `l` reading inputs of shape `in` (without the batch dim); null for a join.
nn::module_ptr make_layer(const config::layer_spec& l, const std::vector<std::size_t>& in, rng& gen) {
  const auto init = l.init.empty() ? nn::init_kind::kaiming_uniform : nn::parse_init_kind(l.init);
  if (l.type == "conv2d")
    return std::make_unique<nn::conv2d>(in.at(0), l.out_channels, l.kernel, l.stride, l.padding, init, gen, l.bias);
  if (l.type == "dense")
    return std::make_unique<nn::dense>(in.at(0), l.units, init, gen, l.bias);
  if (l.type == "maxpool2d")
    return std::make_unique<nn::max_pool2d>(l.kernel, l.stride);
  if (l.type == "avgpool2d")
    return std::make_unique<nn::avg_pool2d>(l.kernel, l.stride);
  if (l.type == "global_avg_pool")
    return std::make_unique<nn::global_avg_pool>();
  if (l.type == "batchnorm2d")
    return std::make_unique<nn::batch_norm2d>(in.at(0), l.momentum, l.eps);
  if (l.type == "batchnorm1d")
    return std::make_unique<nn::batch_norm1d>(in.at(0), l.momentum, l.eps);
  if (l.type == "relu")
    return std::make_unique<nn::activation>(nn::activation_kind::relu);
  if (l.type == "leaky_relu")
    return std::make_unique<nn::leaky_relu>(l.negative_slope);
  if (l.type == "gelu")
    return std::make_unique<nn::activation>(nn::activation_kind::gelu);
  if (l.type == "sigmoid")
    return std::make_unique<nn::activation>(nn::activation_kind::sigmoid);
  if (l.type == "tanh")
    return std::make_unique<nn::activation>(nn::activation_kind::tanh);
  if (l.type == "flatten")
    return std::make_unique<nn::flatten>();
  if (l.type == "dropout")
    return std::make_unique<nn::dropout>(l.p, gen.next());
  if (config::is_join(l.type))
    return nullptr;
  throw error(l.where + ": layer type '" + l.type + "' has no implementation");
}

} // namespace

nn::module_ptr build_model(const config::model_spec& spec, std::uint64_t seed) {
  const auto shapes = config::infer_shapes(spec);
  const config::model_graph wiring = config::resolve_graph(spec);
  const auto input_shape = [&](std::size_t from) {
    return from == config::model_graph::model_input ? spec.input_shape : shapes[from];
  };
  rng gen(seed);
  std::vector<nn::module_ptr> layers;
  for (std::size_t i = 0; i < spec.layers.size(); ++i)
    layers.push_back(make_layer(spec.layers[i], input_shape(wiring.inputs[i].front()), gen));

  if (wiring.sequential) {
    auto model = std::make_unique<nn::sequential>();
    for (auto& layer : layers)
      model->add(std::move(layer));
    return model;
  }
  auto model = std::make_unique<nn::graph>();
  std::vector<std::size_t> id(spec.layers.size()); // layer index -> graph node id
  const auto node_of = [&](std::size_t from) {
    return from == config::model_graph::model_input ? nn::graph::input : id[from];
  };
  for (const std::size_t i : wiring.order) {
    const std::string name = config::node_name(spec, i);
    if (layers[i]) {
      id[i] = model->add(name, std::move(layers[i]), node_of(wiring.inputs[i].front()));
      continue;
    }
    std::vector<std::size_t> from;
    for (const std::size_t f : wiring.inputs[i])
      from.push_back(node_of(f));
    id[i] = model->join(name, spec.layers[i].type == "add" ? nn::join_kind::add : nn::join_kind::concat, from);
  }
  return model;
}

} // namespace troupe::train
