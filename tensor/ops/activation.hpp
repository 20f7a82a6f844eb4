#pragma once
/// Point-wise activations; each backward uses the saved output, not the input.

#include "tensor/var.hpp"

namespace troupe::tensor {

var relu(const var& x);    ///< max(x, 0); gradient 1 where the output is positive, else 0
var sigmoid(const var& x); ///< 1 / (1 + e^-x); gradient y (1 - y)
var tanh(const var& x);    ///< tanh x; gradient 1 - y^2

} // namespace troupe::tensor
