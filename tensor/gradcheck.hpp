#pragma once
/// Numerical gradient check by central differences, usable on any op or whole model.
///
/// The function's output y (any shape) is projected onto fixed random weights r, L = Σ r·y, so one
/// backward pass (seed r) gives ∂L/∂x for every input; each input element is then perturbed by ±eps
/// and (L(x+eps) − L(x−eps)) / 2eps is compared with the analytic value.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/var.hpp"

namespace troupe::tensor {

struct gradcheck_options {
  double eps = 1e-2; ///< perturbation (float32 inputs: 1e-2..1e-3 balances truncation and rounding)
  double atol = 1e-3;
  double rtol = 1e-2; ///< pass iff |analytic − numeric| ≤ atol + rtol·|numeric| for every element
  std::uint64_t seed = 7;
  std::size_t max_elements_per_input = 0; ///< 0 = all; otherwise a seeded sample of elements
};

struct gradcheck_result {
  bool ok = true;
  double max_abs_error = 0.0;
  std::size_t checked = 0;
  std::string worst; ///< "input 1 element 17: analytic 0.1234 numeric 0.1201" (the worst mismatch)
};

/// Checks d f / d inputs for every input that requires gradients.
gradcheck_result gradcheck(const std::function<var(const std::vector<var>&)>& f, const std::vector<var>& inputs,
                           const gradcheck_options& options = {});

} // namespace troupe::tensor
