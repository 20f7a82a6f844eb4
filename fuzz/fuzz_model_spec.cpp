/// libFuzzer target: config::parse_model_spec, the model YAML loader, and the shapes it implies.
///
/// Input: YAML text. A spec that parses also goes through infer_shapes and num_outputs, where
/// large kernels, strides and unit counts meet arithmetic. Every refusal must be a troupe::error
/// that cites the file.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/model_graph.hpp"
#include "config/model_spec.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_model_spec: %s %s\n", what, detail.c_str());
  std::abort();
}

using wide = unsigned __int128;

/// The same shape rules as infer_shapes in 128-bit arithmetic (no input here can overflow it):
/// an accepted spec must give exactly these shapes, or infer_shapes wrapped around somewhere.
void check_against_reference(const troupe::config::model_spec& spec,
                             const std::vector<std::vector<std::size_t>>& shapes) {
  using troupe::config::model_graph;
  const model_graph g = troupe::config::resolve_graph(spec);
  const std::vector<wide> input(spec.input_shape.begin(), spec.input_shape.end());
  std::vector<std::vector<wide>> outputs(spec.layers.size());
  const auto output_of = [&](std::size_t from) { return from == model_graph::model_input ? input : outputs[from]; };
  for (const std::size_t i : g.order) {
    const auto& l = spec.layers[i];
    std::vector<wide> shape = output_of(g.inputs[i].front());
    if (l.type == "conv2d" || l.type == "maxpool2d" || l.type == "avgpool2d") {
      const wide pad = l.type == "conv2d" ? l.padding : 0;
      const auto out = [&](wide in) {
        if (in + 2 * pad < l.kernel)
          fail("accepted a kernel larger than its padded input at layer", std::to_string(i));
        return (in + 2 * pad - l.kernel) / l.stride + 1;
      };
      shape = {l.type == "conv2d" ? wide{l.out_channels} : shape.at(0), out(shape.at(1)), out(shape.at(2))};
    } else if (l.type == "dense") {
      shape = {l.units};
    } else if (l.type == "flatten") {
      wide n = 1;
      for (const wide d : shape)
        n *= d;
      shape = {n};
    } else if (l.type == "global_avg_pool") {
      shape = {shape.at(0)};
    } else if (l.type == "concat") {
      for (std::size_t k = 1; k < g.inputs[i].size(); ++k)
        shape.at(0) += output_of(g.inputs[i][k]).at(0);
    }
    if (shapes[i].size() != shape.size())
      fail("infer_shapes gave another rank than the reference at layer", std::to_string(i));
    for (std::size_t k = 0; k < shape.size(); ++k)
      if (shape[k] != shapes[i][k])
        fail("infer_shapes disagrees with exact arithmetic (it wrapped around) at layer", std::to_string(i));
    outputs[i] = shape;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const troupe::config::model_spec spec = troupe::config::parse_model_spec(text, "fuzz-model.yaml");
    const auto shapes = troupe::config::infer_shapes(spec);
    if (shapes.size() != spec.layers.size())
      fail("infer_shapes gave one shape per layer for a different number of layers");
    check_against_reference(spec, shapes);
    const std::size_t outputs = troupe::config::num_outputs(spec);
    wide n = 1;
    for (const auto d : shapes.empty() ? spec.input_shape : shapes.back())
      n *= d;
    if (n != outputs)
      fail("num_outputs wrapped around: the exact count is larger than 64 bits");
  } catch (const troupe::error& e) {
    if (std::string(e.what()).compare(0, 15, "fuzz-model.yaml") != 0)
      fail("an error does not cite the file:", e.what());
  }
  return 0;
}
