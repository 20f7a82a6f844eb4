#pragma once
/// Point-wise activations; relu, sigmoid and tanh differentiate from the saved output, leaky_relu and
/// gelu from the input.

#include "tensor/var.hpp"

namespace troupe::tensor {

var relu(const var& x);    ///< max(x, 0); gradient 1 where the output is positive, else 0
var sigmoid(const var& x); ///< 1 / (1 + e^-x); gradient y (1 - y)
var tanh(const var& x);    ///< tanh x; gradient 1 - y^2

/// x where x > 0, else negative_slope·x (PyTorch's LeakyReLU); gradient 1 or negative_slope.
var leaky_relu(const var& x, float negative_slope = 0.01f);

/// x·Φ(x) = x/2 · (1 + erf(x/√2)), the exact GELU (PyTorch's default); gradient Φ(x) + x·φ(x).
var gelu(const var& x);

} // namespace troupe::tensor
