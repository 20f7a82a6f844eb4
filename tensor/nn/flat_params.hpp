#pragma once
/// A model's state as one flat float vector: the form optimizers, checkpoints and the wire use.
///
/// Order and offsets follow `module::parameters()`, then `module::buffers()` (batch norm's
/// running statistics) at the end: the trainable parameters are the prefix [0, params), the
/// buffers [params, total). A model without buffers has exactly its parameters. A replica of the
/// same architecture has the same layout, so flat vectors move between replicas, processes and
/// files unchanged.
///
/// A "gradient" in this layout carries, in its buffer entries, the buffer *update* of a training
/// forward instead (new value − value read; see accumulate_buffer_updates): optimizers step the
/// parameter entries only and buffer entries are moved by that update (apply_buffer_updates).

#include <string>
#include <vector>

#include "tensor/nn/module.hpp"

namespace troupe::nn {

struct param_entry {
  std::string name; ///< e.g. "3.weight"
  tensor::shape_t shape;
  std::size_t offset = 0; ///< into the flat buffer, in floats
  std::size_t size = 0;
  bool buffer = false; ///< a module buffer (running statistics), not a trainable parameter
};

struct param_layout {
  std::vector<param_entry> entries;
  std::size_t total = 0;  ///< floats in the flat buffer
  std::size_t params = 0; ///< floats of trainable parameters (the prefix); total − params are buffers

  /// Throws troupe::error naming the first parameter whose name or shape differs.
  void require_same(const param_layout& other, const std::string& what) const;
};

param_layout layout_of(module& m);

/// Copies m's parameter and buffer values into flat (resized to the layout's total).
void gather_values(module& m, std::vector<float>& flat);

/// Overwrites m's parameter and buffer values from flat.
void scatter_values(module& m, const float* flat);

/// flat += scale · (m's parameter gradients); parameters without a gradient contribute nothing.
/// Buffer entries are left alone.
void accumulate_grads(module& m, float* flat, float scale);

/// flat[buffers] += scale · (m's buffer values − read[buffers]): the change a training forward
/// made to the buffers it was loaded with (scatter_values(m, read)). Parameter entries are left alone.
void accumulate_buffer_updates(module& m, const float* read, float* flat, float scale);

/// values[e] += scale · update[e] for every buffer entry e of `layout`: how a buffer update is
/// applied where an optimizer steps the parameters.
void apply_buffer_updates(const param_layout& layout, float* values, const float* update, float scale);

/// Clears m's parameter gradients.
void zero_grads(module& m);

} // namespace troupe::nn
