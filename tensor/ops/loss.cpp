#include "tensor/ops/loss.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"

namespace troupe::tensor {

namespace {

/// Writes softmax of each row into p and returns Σ_i log-sum-exp of row i (in double).
void softmax_rows(const float* z, std::size_t n, std::size_t k, float* p, double* lse) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = z + i * k;
    const float m = *std::max_element(row, row + k);
    double s = 0.0;
    for (std::size_t j = 0; j < k; ++j) {
      const float e = std::exp(row[j] - m);
      p[i * k + j] = e;
      s += e;
    }
    const float inv = static_cast<float>(1.0 / s);
    for (std::size_t j = 0; j < k; ++j)
      p[i * k + j] *= inv;
    lse[i] = m + std::log(s);
  }
}

void check_logits(const shape_t& s) {
  TROUPE_ENFORCE(s.size() == 2 && s[0] > 0 && s[1] > 0, "cross-entropy needs logits [N, K] with N, K > 0, got {}",
                 shape_str(s));
}

} // namespace

array softmax(const array& logits) {
  const auto s = shape_of(logits);
  check_logits(s);
  array p = array::from_shape(logits.shape());
  std::vector<double> lse(s[0]);
  softmax_rows(logits.data(), s[0], s[1], p.data(), lse.data());
  return p;
}

var softmax_cross_entropy(const var& logits, const std::vector<std::int32_t>& labels) {
  const auto s = logits.shape();
  check_logits(s);
  const std::size_t n = s[0], k = s[1];
  TROUPE_ENFORCE(labels.size() == n, "cross-entropy got {} labels for {} rows of logits", labels.size(), n);
  auto probs = std::make_shared<array>(array::from_shape({n, k}));
  std::vector<double> lse(n);
  softmax_rows(logits.value().data(), n, k, probs->data(), lse.data());
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    TROUPE_ENFORCE(labels[i] >= 0 && static_cast<std::size_t>(labels[i]) < k,
                   "label {} of sample {} is outside [0, {})", labels[i], i, k);
    total += lse[i] - logits.value().data()[i * k + static_cast<std::size_t>(labels[i])];
  }
  array out = zeros({});
  out() = static_cast<float>(total / static_cast<double>(n));
  return make_result(std::move(out), {logits}, [probs, labels, n, k](node& self) {
    const float scale = self.grad.data()[0] / static_cast<float>(n);
    float* g = self.inputs[0]->grad_buffer().data();
    const float* p = probs->data();
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < k; ++j) {
        const float onehot = static_cast<std::size_t>(labels[i]) == j ? 1.0f : 0.0f;
        g[i * k + j] += scale * (p[i * k + j] - onehot);
      }
  });
}

var softmax_cross_entropy(const var& logits, const std::vector<std::int32_t>& labels, float label_smoothing) {
  TROUPE_ENFORCE(label_smoothing >= 0.0f && label_smoothing <= 1.0f, "label_smoothing must be in [0, 1], got {}",
                 label_smoothing);
  if (label_smoothing == 0.0f) // the unsmoothed loss, bit for bit
    return softmax_cross_entropy(logits, labels);
  const auto s = logits.shape();
  check_logits(s);
  const std::size_t n = s[0], k = s[1];
  TROUPE_ENFORCE(labels.size() == n, "cross-entropy got {} labels for {} rows of logits", labels.size(), n);
  auto probs = std::make_shared<array>(array::from_shape({n, k}));
  std::vector<double> lse(n);
  softmax_rows(logits.value().data(), n, k, probs->data(), lse.data());
  const double eps = label_smoothing, uniform = eps / static_cast<double>(k);
  const float* z = logits.value().data();
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    TROUPE_ENFORCE(labels[i] >= 0 && static_cast<std::size_t>(labels[i]) < k,
                   "label {} of sample {} is outside [0, {})", labels[i], i, k);
    double all = 0.0; // Σ_k (lse − z_ik): the loss against the uniform target, times K
    for (std::size_t j = 0; j < k; ++j)
      all += lse[i] - z[i * k + j];
    total += (1.0 - eps) * (lse[i] - z[i * k + static_cast<std::size_t>(labels[i])]) + uniform * all;
  }
  array out = zeros({});
  out() = static_cast<float>(total / static_cast<double>(n));
  const auto on = static_cast<float>(1.0 - eps + uniform), off = static_cast<float>(uniform);
  return make_result(std::move(out), {logits}, [probs, labels, n, k, on, off](node& self) {
    const float scale = self.grad.data()[0] / static_cast<float>(n);
    float* g = self.inputs[0]->grad_buffer().data();
    const float* p = probs->data();
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < k; ++j) {
        const float target = static_cast<std::size_t>(labels[i]) == j ? on : off;
        g[i * k + j] += scale * (p[i * k + j] - target);
      }
  });
}

var softmax_cross_entropy(const var& logits, const array& targets) {
  const auto s = logits.shape();
  check_logits(s);
  TROUPE_ENFORCE(shape_of(targets) == s, "cross-entropy targets {} must match logits {}", shape_str(shape_of(targets)),
                 shape_str(s));
  const std::size_t n = s[0], k = s[1];
  auto probs = std::make_shared<array>(array::from_shape({n, k}));
  auto t = std::make_shared<array>(targets);
  std::vector<double> lse(n);
  softmax_rows(logits.value().data(), n, k, probs->data(), lse.data());
  double total = 0.0;
  const float* z = logits.value().data();
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) // −t · log softmax = t · (lse − z)
      total += static_cast<double>(t->data()[i * k + j]) * (lse[i] - z[i * k + j]);
  array out = zeros({});
  out() = static_cast<float>(total / static_cast<double>(n));
  return make_result(std::move(out), {logits}, [probs, t, n, k](node& self) {
    const float scale = self.grad.data()[0] / static_cast<float>(n);
    float* g = self.inputs[0]->grad_buffer().data();
    const float* p = probs->data();
    const float* tt = t->data();
    for (std::size_t i = 0; i < n; ++i) {
      float row_sum = 0.0f;
      for (std::size_t j = 0; j < k; ++j)
        row_sum += tt[i * k + j];
      for (std::size_t j = 0; j < k; ++j)
        g[i * k + j] += scale * (p[i * k + j] * row_sum - tt[i * k + j]);
    }
  });
}

var mse_loss(const var& prediction, const array& target) {
  TROUPE_ENFORCE(shape_of(target) == prediction.shape(), "mse target {} must match prediction {}",
                 shape_str(shape_of(target)), shape_str(prediction.shape()));
  const std::size_t n = prediction.size();
  TROUPE_ENFORCE(n > 0, "mse of an empty tensor");
  auto diff = std::make_shared<array>(prediction.value() - target);
  double total = 0.0;
  for (float d : *diff)
    total += static_cast<double>(d) * d;
  array out = zeros({});
  out() = static_cast<float>(total / static_cast<double>(n));
  return make_result(std::move(out), {prediction}, [diff, n](node& self) {
    const float scale = 2.0f * self.grad.data()[0] / static_cast<float>(n);
    float* g = self.inputs[0]->grad_buffer().data();
    const float* d = diff->data();
    for (std::size_t i = 0; i < n; ++i)
      g[i] += scale * d[i];
  });
}

} // namespace troupe::tensor
