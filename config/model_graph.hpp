#pragma once
/// How the layers of a model_spec are wired: names resolved to layer indices, checked, and ordered.

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "config/model_spec.hpp"

namespace troupe::config {

struct model_graph {
  /// Stands for the model's input in `inputs`.
  static constexpr std::size_t model_input = std::numeric_limits<std::size_t>::max();

  std::vector<std::vector<std::size_t>> inputs; ///< per layer: the layers it reads (or model_input)
  std::vector<std::size_t> order;               ///< every layer after those it reads; file order where free
  bool sequential = true; ///< a plain list: no layer is named and each reads exactly the layer before it
};

/// Whether the layer type joins several inputs (add, concat) rather than transforming one.
bool is_join(const std::string& type);

/// The name a layer's parameters are prefixed with: its `name`, or its index as in a plain list ("3").
std::string node_name(const model_spec& spec, std::size_t layer);

/// Resolves and checks the wiring; errors start "file:line:col: layers[i]...: " and name the problem: a duplicate
/// or reserved name, an unknown input (with the closest name), a wrong number of inputs, a cycle (listing it), or
/// a layer whose output nothing reads.
model_graph resolve_graph(const model_spec& spec);

} // namespace troupe::config
