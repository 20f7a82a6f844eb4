#include "tensor/ops/activation.hpp"

#include <cmath>

namespace troupe::tensor {

namespace {

/// Builds a pointwise activation. Its derivative is a function of the output y alone, or with
/// FromInput of the input x (kept by the graph).
template <bool FromInput, class Forward, class Deriv>
var pointwise(const var& x, Forward f, Deriv dy_dx) {
  array out = array::from_shape(x.value().shape());
  const float* in = x.value().data();
  float* o = out.data();
  for (std::size_t i = 0, n = out.size(); i < n; ++i)
    o[i] = f(in[i]);
  return make_result(std::move(out), {x}, [dy_dx](node& self) {
    node& in_node = *self.inputs[0];
    float* gi = in_node.grad_buffer().data();
    const float* at = FromInput ? in_node.value.data() : self.value.data();
    const float* g = self.grad.data();
    for (std::size_t i = 0, n = self.value.size(); i < n; ++i)
      gi[i] += g[i] * dy_dx(at[i]);
  });
}

} // namespace

var relu(const var& x) {
  return pointwise<false>(
      x, [](float v) { return v > 0.0f ? v : 0.0f; }, [](float y) { return y > 0.0f ? 1.0f : 0.0f; });
}

var sigmoid(const var& x) {
  return pointwise<false>(
      x,
      [](float v) {
        // Split by sign so exp never overflows.
        if (v >= 0.0f)
          return 1.0f / (1.0f + std::exp(-v));
        const float e = std::exp(v);
        return e / (1.0f + e);
      },
      [](float y) { return y * (1.0f - y); });
}

var tanh(const var& x) {
  return pointwise<false>(
      x, [](float v) { return std::tanh(v); }, [](float y) { return 1.0f - y * y; });
}

var leaky_relu(const var& x, float negative_slope) {
  // From the input: with a negative slope the output's sign no longer tells the input's.
  return pointwise<true>(
      x, [negative_slope](float v) { return v > 0.0f ? v : v * negative_slope; },
      [negative_slope](float v) { return v > 0.0f ? 1.0f : negative_slope; });
}

var gelu(const var& x) {
  constexpr double inv_sqrt2 = 0.70710678118654752440;
  constexpr double inv_sqrt_2pi = 0.39894228040143267794;
  // In double: erf and exp of a float argument, rounded once.
  return pointwise<true>(
      x, [](float v) { return static_cast<float>(0.5 * v * (1.0 + std::erf(v * inv_sqrt2))); },
      [](float v) {
        const double cdf = 0.5 * (1.0 + std::erf(v * inv_sqrt2));
        const double pdf = inv_sqrt_2pi * std::exp(-0.5 * static_cast<double>(v) * v);
        return static_cast<float>(cdf + v * pdf);
      });
}

} // namespace troupe::tensor
