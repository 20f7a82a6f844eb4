#pragma once
/// Losses, mean-reduced over the batch as PyTorch's defaults.

#include <cstdint>
#include <vector>

#include "tensor/var.hpp"

namespace troupe::tensor {

/// Fused, numerically stable softmax + cross-entropy of logits [N, K] against class indices.
/// loss = (1/N) Σ_i (logsumexp(z_i) − z_i[y_i]); d loss / d z = (softmax(z) − onehot(y)) / N.
var softmax_cross_entropy(const var& logits, const std::vector<std::int32_t>& labels);

/// The same with label smoothing ε in [0, 1] (PyTorch's `label_smoothing`): row i's target is
/// (1 − ε)·onehot(y_i) + ε/K, so loss = (1/N) Σ_i [(1 − ε)(lse_i − z_i[y_i]) + (ε/K) Σ_k (lse_i − z_ik)]
/// and d loss / d z = (softmax(z) − target) / N. ε = 0 is exactly the call without it.
var softmax_cross_entropy(const var& logits, const std::vector<std::int32_t>& labels, float label_smoothing);

/// The same against probability-vector targets [N, K]: loss = −(1/N) Σ_i Σ_k t_ik log softmax(z_i)_k;
/// gradient (softmax(z)·Σ_k t_ik − t) / N, i.e. softmax − target for normalised targets.
var softmax_cross_entropy(const var& logits, const array& targets);

/// Mean squared error: (1/numel) Σ (p − t)².
var mse_loss(const var& prediction, const array& target);

/// Row-wise softmax of logits [N, K] (no graph), for reporting probabilities.
array softmax(const array& logits);

} // namespace troupe::tensor
