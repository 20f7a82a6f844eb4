// infer_shapes and num_outputs of model_spec.hpp: the shapes a model description implies.
#include "config/model_spec.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "common/error.hpp"
#include "config/model_graph.hpp"

namespace troupe::config {

namespace {

std::string shape_str(const std::vector<std::size_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

/// "file:line:col: layers[3].conv2d: problem".
[[noreturn]] void layer_error(const model_spec& spec, std::size_t i, const std::string& problem) {
  const layer_spec& layer = spec.layers[i];
  const std::string& where = layer.where.empty() ? spec.source : layer.where;
  throw error(fmt::format("{}{}layers[{}].{}: {}", where, where.empty() ? "" : ": ", i, layer.type, problem));
}

/// How shape errors name where a join's input comes from: 'stem', layers[3] or input.
std::string source_name(const model_spec& spec, std::size_t from) {
  if (from == model_graph::model_input)
    return "input";
  return spec.layers[from].name.empty() ? fmt::format("layers[{}]", from) : "'" + spec.layers[from].name + "'";
}

} // namespace

std::vector<std::vector<std::size_t>> infer_shapes(const model_spec& spec) {
  std::vector<std::size_t> shape = spec.input_shape;
  const std::string prefix = spec.source.empty() ? "" : spec.source + ": ";
  if (shape.size() != 1 && shape.size() != 3)
    throw error(fmt::format("{}input: expected rank 3 [channels, height, width] or rank 1 [features], got {}", prefix,
                            shape_str(shape)));
  for (std::size_t d : shape)
    if (d == 0)
      throw error(fmt::format("{}input: every dimension must be positive, got {}", prefix, shape_str(shape)));
  std::size_t input_elements = 1;
  for (std::size_t d : shape)
    if (__builtin_mul_overflow(input_elements, d, &input_elements))
      throw error(fmt::format("{}input: {} has more elements than fit in 64 bits", prefix, shape_str(shape)));

  // Layers run after the layers they read; shapes[i] is layer i's output in file order.
  const model_graph g = resolve_graph(spec);
  std::vector<std::vector<std::size_t>> shapes(spec.layers.size());
  const auto input_shape = [&](std::size_t from) {
    return from == model_graph::model_input ? spec.input_shape : shapes[from];
  };
  for (const std::size_t i : g.order) {
    const layer_spec& l = spec.layers[i];
    const auto fail = [&](const std::string& problem) { layer_error(spec, i, problem); };
    shape = input_shape(g.inputs[i].front());
    const bool spatial = l.type == "conv2d" || l.type == "maxpool2d" || l.type == "avgpool2d";
    if (is_join(l.type)) {
      const bool add = l.type == "add";
      for (std::size_t k = 1; k < g.inputs[i].size(); ++k) {
        const std::vector<std::size_t> other = input_shape(g.inputs[i][k]);
        const bool fits =
            add ? other == shape
                : other.size() == shape.size() && std::equal(other.begin() + 1, other.end(), shape.begin() + 1);
        if (!fits)
          fail(fmt::format("{}, got {} from {} and {} from {}",
                           add ? "add needs inputs of one shape"
                               : "concat needs inputs that differ only in their first (channel) dimension",
                           shape_str(input_shape(g.inputs[i].front())), source_name(spec, g.inputs[i].front()),
                           shape_str(other), source_name(spec, g.inputs[i][k])));
        if (!add && __builtin_add_overflow(shape[0], other[0], &shape[0]))
          fail("the concatenated channels do not fit in 64 bits");
      }
    } else if (l.type == "batchnorm2d" || l.type == "batchnorm1d") {
      const std::size_t rank = l.type == "batchnorm2d" ? 3 : 1;
      if (shape.size() != rank)
        fail(fmt::format("needs a rank-{} input {}, got {}", rank,
                         rank == 3 ? "[channels, height, width]" : "[features]", shape_str(shape)));
    } else if (l.type == "global_avg_pool") {
      if (shape.size() != 3)
        fail(fmt::format("needs a rank-3 input [channels, height, width], got {}", shape_str(shape)));
      shape = {shape[0]};
    } else if (spatial) {
      if (shape.size() != 3)
        fail(fmt::format("needs a rank-3 input [channels, height, width], got {}", shape_str(shape)));
      if (l.kernel == 0 || l.stride == 0)
        fail(fmt::format("kernel and stride must be positive, got kernel {} and stride {}", l.kernel, l.stride));
      // PyTorch, floor mode: out = floor((in + 2*padding - kernel) / stride) + 1; pooling has no padding here.
      const std::size_t pad = l.type == "conv2d" ? l.padding : 0;
      for (const std::size_t axis : {std::size_t{1}, std::size_t{2}})
        if (pad > (std::numeric_limits<std::size_t>::max() - shape[axis]) / 2)
          fail(fmt::format("padding {} is too large: the padded input {} does not fit in 64 bits", pad,
                           shape_str(shape)));
      for (const std::size_t axis : {std::size_t{1}, std::size_t{2}})
        if (shape[axis] + 2 * pad < l.kernel)
          fail(fmt::format("kernel {} is larger than the input {}{}; the output would be empty", l.kernel,
                           shape_str(shape), pad ? fmt::format(" padded by {}", pad) : ""));
      const auto out = [&](std::size_t in) { return (in + 2 * pad - l.kernel) / l.stride + 1; };
      if (l.type == "conv2d") {
        if (l.out_channels == 0)
          fail("out_channels must be positive");
        shape = {l.out_channels, out(shape[1]), out(shape[2])};
      } else {
        shape = {shape[0], out(shape[1]), out(shape[2])};
      }
    } else if (l.type == "dense") {
      if (shape.size() != 1)
        fail(
            fmt::format("needs a rank-1 input [features], got {}; insert a flatten layer before it", shape_str(shape)));
      if (l.units == 0)
        fail("units must be positive");
      shape = {l.units};
    } else if (l.type == "flatten") {
      std::size_t n = 1;
      for (std::size_t d : shape) {
        if (n > std::numeric_limits<std::size_t>::max() / d)
          fail(fmt::format("{} has too many elements", shape_str(shape)));
        n *= d;
      }
      shape = {n};
    } else if (l.type == "dropout") {
      if (!(l.p >= 0.0f && l.p < 1.0f))
        fail(fmt::format("p must be in [0, 1), got {}", l.p));
    } else if (l.type != "relu" && l.type != "sigmoid" && l.type != "tanh" && l.type != "leaky_relu" &&
               l.type != "gelu") {
      fail(fmt::format("unknown layer type '{}'", l.type));
    }
    // Every later count (flatten, num_outputs, the layer's buffers) multiplies these dimensions.
    std::size_t n = 1;
    for (std::size_t d : shape)
      if (__builtin_mul_overflow(n, d, &n))
        fail(fmt::format("output {} has more elements than fit in 64 bits", shape_str(shape)));
    shapes[i] = shape;
  }
  return shapes;
}

std::size_t num_outputs(const model_spec& spec) {
  const auto shapes = infer_shapes(spec);
  const std::vector<std::size_t>& last = shapes.empty() ? spec.input_shape : shapes.back();
  std::size_t n = 1;
  for (std::size_t d : last)
    n *= d;
  return n;
}

} // namespace troupe::config
