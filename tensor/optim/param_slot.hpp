#pragma once
/// One named parameter buffer and its gradient, as an optimizer sees it.

#include <cstddef>
#include <string>

namespace troupe::optim {

/// A named flat parameter buffer of `size` floats that an optimizer updates in place from `grad`.
///
/// The optimizer never owns either buffer; both must stay valid for the duration of a step.
/// Names key the optimizer's state, so they must be unique and stable across steps and restarts.
struct param_slot {
  std::string name;
  float* value = nullptr;      // [size], updated in place
  const float* grad = nullptr; // [size], read only
  std::size_t size = 0;
};

} // namespace troupe::optim
