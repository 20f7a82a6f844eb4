#include "tensor/ops/activation.hpp"

#include <cmath>

namespace troupe::tensor {

namespace {

/// Builds an activation whose derivative is a function of the output y alone.
template <class Forward, class DerivFromOutput>
var pointwise(const var& x, Forward f, DerivFromOutput dy_dx) {
  array out = array::from_shape(x.value().shape());
  const float* in = x.value().data();
  float* o = out.data();
  for (std::size_t i = 0, n = out.size(); i < n; ++i)
    o[i] = f(in[i]);
  return make_result(std::move(out), {x}, [dy_dx](node& self) {
    node& in_node = *self.inputs[0];
    float* gi = in_node.grad_buffer().data();
    const float* y = self.value.data();
    const float* g = self.grad.data();
    for (std::size_t i = 0, n = self.value.size(); i < n; ++i)
      gi[i] += g[i] * dy_dx(y[i]);
  });
}

} // namespace

var relu(const var& x) {
  return pointwise(
      x, [](float v) { return v > 0.0f ? v : 0.0f; }, [](float y) { return y > 0.0f ? 1.0f : 0.0f; });
}

var sigmoid(const var& x) {
  return pointwise(
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
  return pointwise(
      x, [](float v) { return std::tanh(v); }, [](float y) { return 1.0f - y * y; });
}

} // namespace troupe::tensor
