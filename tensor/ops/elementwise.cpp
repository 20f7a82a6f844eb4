#include "tensor/ops/elementwise.hpp"

#include <xtensor/xarray.hpp>
#include <xtensor/xreducer.hpp>

#include "common/error.hpp"

namespace troupe::tensor {

shape_t broadcast_shape(const shape_t& a, const shape_t& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  shape_t out(rank, 1);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::size_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    TROUPE_ENFORCE(da == db || da == 1 || db == 1, "shapes {} and {} cannot be broadcast together", shape_str(a),
                   shape_str(b));
    out[i] = std::max(da, db);
  }
  return out;
}

array reduce_to_shape(const array& g, const shape_t& target) {
  const shape_t gs = shape_of(g);
  if (gs == target)
    return g;
  const std::size_t lead = gs.size() - target.size();
  std::vector<std::size_t> axes;
  for (std::size_t i = 0; i < gs.size(); ++i)
    if (i < lead || (target[i - lead] == 1 && gs[i] != 1))
      axes.push_back(i);
  array r = xt::sum(g, axes, xt::evaluation_strategy::immediate);
  r.reshape(target);
  return r;
}

namespace {

/// Accumulates g (shaped like the output) into input i, summing broadcast axes away.
void accumulate_broadcast(node& self, std::size_t i, const array& g) {
  node& in = *self.inputs[i];
  if (!in.requires_grad)
    return;
  in.accumulate(reduce_to_shape(g, shape_of(in.value)));
}

} // namespace

var add(const var& a, const var& b) {
  broadcast_shape(a.shape(), b.shape());
  array out = a.value() + b.value();
  return make_result(std::move(out), {a, b}, [](node& self) {
    accumulate_broadcast(self, 0, self.grad);
    accumulate_broadcast(self, 1, self.grad);
  });
}

var sub(const var& a, const var& b) {
  broadcast_shape(a.shape(), b.shape());
  array out = a.value() - b.value();
  return make_result(std::move(out), {a, b}, [](node& self) {
    accumulate_broadcast(self, 0, self.grad);
    if (self.inputs[1]->requires_grad) {
      array neg = -self.grad;
      accumulate_broadcast(self, 1, neg);
    }
  });
}

var mul(const var& a, const var& b) {
  broadcast_shape(a.shape(), b.shape());
  array out = a.value() * b.value();
  return make_result(std::move(out), {a, b}, [](node& self) {
    const array& av = self.inputs[0]->value;
    const array& bv = self.inputs[1]->value;
    if (self.inputs[0]->requires_grad) {
      array ga = self.grad * bv;
      accumulate_broadcast(self, 0, ga);
    }
    if (self.inputs[1]->requires_grad) {
      array gb = self.grad * av;
      accumulate_broadcast(self, 1, gb);
    }
  });
}

var scale(const var& a, float s) {
  array out = a.value() * s;
  return make_result(std::move(out), {a}, [s](node& self) {
    array g = self.grad * s;
    self.inputs[0]->accumulate(g);
  });
}

var sum(const var& a) {
  double total = 0.0;
  for (float v : a.value())
    total += v;
  array out = zeros({});
  out() = static_cast<float>(total);
  return make_result(std::move(out), {a}, [](node& self) {
    node& in = *self.inputs[0];
    const float g = self.grad.data()[0];
    array& gi = in.grad_buffer();
    for (auto& v : gi)
      v += g;
  });
}

var mean(const var& a) {
  TROUPE_ENFORCE(a.size() > 0, "mean of an empty tensor");
  return scale(sum(a), 1.0f / static_cast<float>(a.size()));
}

} // namespace troupe::tensor
