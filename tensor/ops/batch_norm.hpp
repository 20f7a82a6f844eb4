#pragma once
/// Batch normalisation over every axis but the feature axis (PyTorch's F.batch_norm).

#include "tensor/var.hpp"

namespace troupe::tensor {

/// How one batch_norm call normalises: with the batch's statistics (training) or the running ones.
struct batch_norm_options {
  bool training = true;
  float momentum = 0.1f; ///< running = (1 − momentum)·running + momentum·batch (PyTorch's default)
  float eps = 1e-5f;     ///< added to the variance before the square root
};

/// y [N, C, ...] = (x − μ) / √(σ² + eps) · weight + bias for x [N, C] or [N, C, H, W], per feature c,
/// with weight [C], bias [C] (either may be undefined: 1 and 0).
///
/// Training: μ, σ² are the mean and the biased variance of x over N (and H, W), which needs more than
/// one value per feature; running_mean [C] and running_var [C] move towards μ and the *unbiased*
/// variance by `momentum`. Evaluation: μ, σ² are running_mean and running_var, left unchanged.
var batch_norm(const var& x, const var& weight, const var& bias, array& running_mean, array& running_var,
               const batch_norm_options& options);

} // namespace troupe::tensor
