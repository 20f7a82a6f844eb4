#pragma once
/// Finding NaN and ±Inf in a pushed gradient before the aggregator applies it.
///
/// The check is two-level: `count_nonfinite` is one branch-free pass over the bit patterns that
/// the compiler vectorizes (a float is NaN or ±Inf exactly when its 8 exponent bits are all ones),
/// run on every gradient; `describe_nonfinite` says which parameters hold the bad elements and
/// whether they are NaN or Inf, and only runs on a gradient the first pass flagged.

#include <cstddef>
#include <string>
#include <vector>

#include "tensor/nn/flat_params.hpp"

namespace troupe::ps {

/// Number of elements of g[0, n) that are NaN or ±Inf.
std::size_t count_nonfinite(const float* g, std::size_t n);

/// The non-finite elements of one parameter of a flat gradient.
struct nonfinite_param {
  std::string name;
  std::size_t nan = 0, inf = 0;
};

/// Where a flagged gradient's non-finite elements are: totals and the parameters that hold any.
struct nonfinite_report {
  std::size_t nan = 0, inf = 0;
  std::vector<nonfinite_param> params; ///< only parameters with at least one, in layout order
};

/// Counts NaN and ±Inf per parameter of `layout` in the flat gradient g[0, layout.total).
nonfinite_report describe_nonfinite(const float* g, const nn::param_layout& layout);

/// "3 NaN, 1 Inf in 0.weight (2 NaN), 2.bias (1 NaN, 1 Inf)": for logs and events.
std::string to_string(const nonfinite_report& r);

} // namespace troupe::ps
