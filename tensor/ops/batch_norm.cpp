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

/// Σ p[j] and Σ p[j]·q[j] (q null: Σ (p[j] − c)²) over j < n, in double, in 8 independent lanes so
/// the loop vectorises (one serial double sum is bound by the add latency: batch norm cost ~45 % of
/// a step of the reference CNN with it). Lanes, then their sum: the order is fixed, so the result is
/// the same on every run.
struct lane_sums {
  static constexpr std::size_t lanes = 8;
  double a[lanes] = {}, b[lanes] = {};
  double sum_a() const { return total(a); }
  double sum_b() const { return total(b); }
  static double total(const double (&v)[lanes]) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
  }
  /// a += p, b += p·q
  void add_dot(const float* p, const float* q, std::size_t n) {
    std::size_t j = 0;
    for (; j + lanes <= n; j += lanes)
      for (std::size_t l = 0; l < lanes; ++l) {
        a[l] += p[j + l];
        b[l] += static_cast<double>(p[j + l]) * q[j + l];
      }
    for (std::size_t l = 0; j < n; ++j, ++l) {
      a[l] += p[j];
      b[l] += static_cast<double>(p[j]) * q[j];
    }
  }
  /// a += p
  void add(const float* p, std::size_t n) {
    std::size_t j = 0;
    for (; j + lanes <= n; j += lanes)
      for (std::size_t l = 0; l < lanes; ++l)
        a[l] += p[j + l];
    for (std::size_t l = 0; j < n; ++j, ++l)
      a[l] += p[j];
  }
  /// b += (p − c)²
  void add_sq_dev(const float* p, double c, std::size_t n) {
    std::size_t j = 0;
    for (; j + lanes <= n; j += lanes)
      for (std::size_t l = 0; l < lanes; ++l) {
        const double dev = p[j + l] - c;
        b[l] += dev * dev;
      }
    for (std::size_t l = 0; j < n; ++j, ++l) {
      const double dev = p[j] - c;
      b[l] += dev * dev;
    }
  }
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
      lane_sums t; // two passes (mean, then squared deviations): stable where E[x²] − μ² is not
      for (std::size_t i = 0; i < d.n; ++i)
        t.add(xv + d.at(i, f, 0), d.s);
      mean = t.sum_a() / static_cast<double>(m);
      for (std::size_t i = 0; i < d.n; ++i)
        t.add_sq_dev(xv + d.at(i, f, 0), mean, d.s);
      const double sq = t.sum_b();
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
      const float scale = w ? w[f] : 1.0f, shift = b ? b[f] : 0.0f, mf = mu[f], sf = (*inv_std)[f];
      const std::size_t k0 = d.at(i, f, 0);
      const float* xs = xv + k0;
      float* hs = xhat->data() + k0;
      float* ys = out.data() + k0;
      for (std::size_t j = 0; j < d.s; ++j) {
        const float h = (xs[j] - mf) * sf;
        hs[j] = h;
        ys[j] = h * scale + shift;
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
      lane_sums t;
      for (std::size_t i = 0; i < d.n; ++i)
        t.add_dot(dy + d.at(i, f, 0), h + d.at(i, f, 0), d.s);
      const double sum_dy = t.sum_a(), sum_dy_h = t.sum_b();
      if (nb && nb->requires_grad)
        nb->grad_buffer().data()[f] += static_cast<float>(sum_dy);
      if (nw && nw->requires_grad)
        nw->grad_buffer().data()[f] += static_cast<float>(sum_dy_h);
      if (!nx.requires_grad)
        continue;
      const float scale = (nw ? nw->value.data()[f] : 1.0f) * (*inv_std)[f];
      float* dx = nx.grad_buffer().data();
      if (!training) { // μ and σ² are constants: y is affine in x
        for (std::size_t i = 0; i < d.n; ++i) {
          const std::size_t k0 = d.at(i, f, 0);
          for (std::size_t j = 0; j < d.s; ++j)
            dx[k0 + j] += scale * dy[k0 + j];
        }
        continue;
      }
      // dx = w·inv_std · (dy − mean(dy) − xhat·mean(dy·xhat)), μ and σ² depending on x.
      const double mean_dy = sum_dy / static_cast<double>(m), mean_dy_h = sum_dy_h / static_cast<double>(m);
      for (std::size_t i = 0; i < d.n; ++i) {
        const std::size_t k0 = d.at(i, f, 0);
        for (std::size_t j = 0; j < d.s; ++j)
          dx[k0 + j] += static_cast<float>(scale * (dy[k0 + j] - mean_dy - h[k0 + j] * mean_dy_h));
      }
    }
  });
}

} // namespace troupe::tensor
