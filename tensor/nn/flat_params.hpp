#pragma once
/// A model's parameters as one flat float vector: the form optimizers, checkpoints and the wire use.
///
/// Order and offsets follow `module::parameters()`; a replica of the same architecture has the
/// same layout, so flat buffers move between replicas, processes and files unchanged.

#include <string>
#include <vector>

#include "tensor/nn/module.hpp"

namespace troupe::nn {

struct param_entry {
  std::string name; ///< e.g. "3.weight"
  tensor::shape_t shape;
  std::size_t offset = 0; ///< into the flat buffer, in floats
  std::size_t size = 0;
};

struct param_layout {
  std::vector<param_entry> entries;
  std::size_t total = 0; ///< floats in the flat buffer

  /// Throws troupe::error naming the first parameter whose name or shape differs.
  void require_same(const param_layout& other, const std::string& what) const;
};

param_layout layout_of(module& m);

/// Copies m's parameter values into flat (resized to the layout's total).
void gather_values(module& m, std::vector<float>& flat);

/// Overwrites m's parameter values from flat.
void scatter_values(module& m, const float* flat);

/// flat += scale · (m's parameter gradients); parameters without a gradient contribute nothing.
void accumulate_grads(module& m, float* flat, float scale);

/// Clears m's parameter gradients.
void zero_grads(module& m);

} // namespace troupe::nn
