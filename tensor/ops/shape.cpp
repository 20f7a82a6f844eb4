#include "tensor/ops/shape.hpp"

#include <memory>

#include "common/error.hpp"

namespace troupe::tensor {

var reshape(const var& x, const shape_t& shape) {
  TROUPE_ENFORCE(numel(shape) == x.size(), "cannot reshape {} ({} elements) to {}", shape_str(x.shape()), x.size(),
                 shape_str(shape));
  array out = x.value();
  out.reshape(shape);
  return make_result(std::move(out), {x}, [](node& self) {
    float* g = self.inputs[0]->grad_buffer().data();
    const float* d = self.grad.data();
    for (std::size_t i = 0, n = self.grad.size(); i < n; ++i)
      g[i] += d[i];
  });
}

var flatten(const var& x) {
  const auto s = x.shape();
  TROUPE_ENFORCE(!s.empty(), "flatten needs at least a batch dimension");
  return reshape(x, {s[0], s[0] == 0 ? 0 : x.size() / s[0]});
}

var dropout(const var& x, float p, rng& gen, bool training) {
  TROUPE_ENFORCE(p >= 0.0f && p < 1.0f, "dropout probability must be in [0, 1), got {}", p);
  if (!training || p == 0.0f)
    return x;
  const float keep_scale = 1.0f / (1.0f - p);
  auto mask = std::make_shared<std::vector<float>>(x.size());
  array out = array::from_shape(x.value().shape());
  const float* in = x.value().data();
  for (std::size_t i = 0, n = x.size(); i < n; ++i) {
    (*mask)[i] = gen.uniform() < p ? 0.0f : keep_scale;
    out.data()[i] = in[i] * (*mask)[i];
  }
  return make_result(std::move(out), {x}, [mask](node& self) {
    float* g = self.inputs[0]->grad_buffer().data();
    const float* d = self.grad.data();
    for (std::size_t i = 0, n = self.grad.size(); i < n; ++i)
      g[i] += d[i] * (*mask)[i];
  });
}

} // namespace troupe::tensor
