#pragma once
/// Matrix products: plain matmul and the fully connected layer's x·Wᵀ + b.

#include "tensor/var.hpp"

namespace troupe::tensor {

/// a [M, K] · b [K, N] -> [M, N].
var matmul(const var& a, const var& b);

/// x [N, in] · w [out, in]ᵀ + b [out] -> [N, out] (PyTorch's nn.Linear layout); b may be undefined.
var linear(const var& x, const var& w, const var& b);

} // namespace troupe::tensor
