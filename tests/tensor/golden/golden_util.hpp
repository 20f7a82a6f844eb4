#pragma once
// Inputs and the comparison shared by the tests against ops_golden.hpp (make_ops_golden.py).

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "tensor/array.hpp"

#include "../test_util.hpp"

namespace troupe::test::golden {

/// fill(shape, phase, scale, shift)[i] = sin(0.37·i + phase)·scale + shift, as make_ops_golden.py builds its inputs.
inline tensor::array fill(const tensor::shape_t& shape, double phase, double scale = 1.0, double shift = 0.0) {
  tensor::array a = tensor::zeros(shape);
  for (std::size_t i = 0; i < a.size(); ++i)
    a.data()[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + phase) * scale + shift);
  return a;
}

/// Every element within `rtol` (1e-5) relative of PyTorch's float64 value. An element much smaller than
/// the tensor's largest is typically a cancellation of float32 terms of the largest's size, whose
/// rounding is relative to those terms: it is held to rtol of a tenth of the largest instead.
template <std::size_t N>
void require_golden(const tensor::array& got, const double (&expected)[N], double rtol = 1e-5) {
  REQUIRE(got.size() == N);
  double largest = 0.0;
  for (double e : expected)
    largest = std::max(largest, std::abs(e));
  for (std::size_t i = 0; i < N; ++i) {
    const double g = got.data()[i], e = expected[i];
    INFO("element " << i << ": got " << g << ", PyTorch " << e);
    REQUIRE(std::abs(g - e) <= rtol * std::max(std::abs(e), 0.1 * largest));
  }
}

} // namespace troupe::test::golden
