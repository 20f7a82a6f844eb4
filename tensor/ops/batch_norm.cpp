#include "tensor/ops/batch_norm.hpp"

#include <cmath>
#include <memory>
#include <vector>

#include "common/error.hpp"

namespace troupe::tensor {

namespace {

/// x viewed as [N, C, S]: S = H·W for images, 1 for features.
struct bn_dims {
  std::size_t n, c, s;
  std::size_t per_feature() const { return n * s; }
  std::size_t at(std::size_t i, std::size_t f, std::size_t j) const { return (i * c + f) * s + j; }
};

bn_dims dims_of(const shape_t& xs) {
  TROUPE_ENFORCE(xs.size() == 2 || xs.size() == 4, "batch_norm input must be [N, C] or [N, C, H, W], got {}",
                 shape_str(xs));
  return {xs[0], xs[1], xs.size() == 4 ? xs[2] * xs[3] : 1};
}

void check_per_feature(const char* what, const shape_t& s, std::size_t c) {
  TROUPE_ENFORCE(s == shape_t{c}, "batch_norm {} must be [{}], got {}", what, c, shape_str(s));
}

} // namespace

var batch_norm(const var& x, const var& weight, const var& bias, array& running_mean, array& running_var,
               const batch_norm_options& options) {
  const bn_dims d = dims_of(x.shape());
  if (weight.defined())
    check_per_feature("weight", weight.shape(), d.c);
  if (bias.defined())
    check_per_feature("bias", bias.shape(), d.c);
  check_per_feature("running_mean", shape_of(running_mean), d.c);
  check_per_feature("running_var", shape_of(running_var), d.c);
  const std::size_t m = d.per_feature();
  if (options.training)
    TROUPE_ENFORCE(m > 1, "batch_norm in training needs more than one value per feature, got input {}",
                   shape_str(x.shape()));

  // Per feature: the mean and 1/√(σ² + eps) used to normalise (batch or running statistics).
  auto inv_std = std::make_shared<std::vector<float>>(d.c);
  std::vector<float> mu(d.c);
  const float* xv = x.value().data();
  for (std::size_t f = 0; f < d.c; ++f) {
    double mean = running_mean.data()[f], var = running_var.data()[f];
    if (options.training) {
      double sum = 0.0, sq = 0.0;
      for (std::size_t i = 0; i < d.n; ++i)
        for (std::size_t j = 0; j < d.s; ++j)
          sum += xv[d.at(i, f, j)];
      mean = sum / static_cast<double>(m);
      for (std::size_t i = 0; i < d.n; ++i)
        for (std::size_t j = 0; j < d.s; ++j) {
          const double dev = xv[d.at(i, f, j)] - mean;
          sq += dev * dev;
        }
      var = sq / static_cast<double>(m); // biased: what normalises this batch
      const double unbiased = sq / static_cast<double>(m - 1);
      const double k = options.momentum;
      running_mean.data()[f] = static_cast<float>((1.0 - k) * running_mean.data()[f] + k * mean);
      running_var.data()[f] = static_cast<float>((1.0 - k) * running_var.data()[f] + k * unbiased);
    }
    mu[f] = static_cast<float>(mean);
    (*inv_std)[f] = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(options.eps)));
  }

  // xhat = (x − μ)·inv_std is kept for backward; y = xhat·weight + bias.
  auto xhat = std::make_shared<array>(array::from_shape(x.value().shape()));
  array out = array::from_shape(x.value().shape());
  const float* w = weight.defined() ? weight.value().data() : nullptr;
  const float* b = bias.defined() ? bias.value().data() : nullptr;
  for (std::size_t i = 0; i < d.n; ++i)
    for (std::size_t f = 0; f < d.c; ++f) {
      const float scale = w ? w[f] : 1.0f, shift = b ? b[f] : 0.0f;
      for (std::size_t j = 0; j < d.s; ++j) {
        const std::size_t k = d.at(i, f, j);
        const float h = (xv[k] - mu[f]) * (*inv_std)[f];
        xhat->data()[k] = h;
        out.data()[k] = h * scale + shift;
      }
    }

  std::vector<var> inputs{x};
  if (weight.defined())
    inputs.push_back(weight);
  if (bias.defined())
    inputs.push_back(bias);
  const bool training = options.training, has_w = weight.defined(), has_b = bias.defined();
  return make_result(std::move(out), std::move(inputs), [d, m, xhat, inv_std, training, has_w, has_b](node& self) {
    node& nx = *self.inputs[0];
    node* nw = has_w ? self.inputs[1].get() : nullptr;
    node* nb = has_b ? self.inputs[has_w ? 2 : 1].get() : nullptr;
    const float* dy = self.grad.data();
    const float* h = xhat->data();
    for (std::size_t f = 0; f < d.c; ++f) {
      // Σ dy and Σ dy·xhat over the feature's values: the bias and weight gradients, and the two
      // projections the batch-statistics backward subtracts.
      double sum_dy = 0.0, sum_dy_h = 0.0;
      for (std::size_t i = 0; i < d.n; ++i)
        for (std::size_t j = 0; j < d.s; ++j) {
          const std::size_t k = d.at(i, f, j);
          sum_dy += dy[k];
          sum_dy_h += static_cast<double>(dy[k]) * h[k];
        }
      if (nb && nb->requires_grad)
        nb->grad_buffer().data()[f] += static_cast<float>(sum_dy);
      if (nw && nw->requires_grad)
        nw->grad_buffer().data()[f] += static_cast<float>(sum_dy_h);
      if (!nx.requires_grad)
        continue;
      const float scale = (nw ? nw->value.data()[f] : 1.0f) * (*inv_std)[f];
      float* dx = nx.grad_buffer().data();
      if (!training) { // μ and σ² are constants: y is affine in x
        for (std::size_t i = 0; i < d.n; ++i)
          for (std::size_t j = 0; j < d.s; ++j)
            dx[d.at(i, f, j)] += scale * dy[d.at(i, f, j)];
        continue;
      }
      // dx = w·inv_std · (dy − mean(dy) − xhat·mean(dy·xhat)), μ and σ² depending on x.
      const double mean_dy = sum_dy / static_cast<double>(m), mean_dy_h = sum_dy_h / static_cast<double>(m);
      for (std::size_t i = 0; i < d.n; ++i)
        for (std::size_t j = 0; j < d.s; ++j) {
          const std::size_t k = d.at(i, f, j);
          dx[k] += static_cast<float>(scale * (dy[k] - mean_dy - h[k] * mean_dy_h));
        }
    }
  });
}

} // namespace troupe::tensor
