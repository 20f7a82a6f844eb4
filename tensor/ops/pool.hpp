#pragma once
/// Max pooling over NCHW batches (PyTorch's MaxPool2d without padding, floor mode).

#include "tensor/var.hpp"

namespace troupe::tensor {

/// y [N, C, OH, OW] with OH = ⌊(H − kernel)/stride⌋ + 1; the gradient goes to each window's
/// argmax (the first maximum in row-major order when there are ties).
var max_pool2d(const var& x, std::size_t kernel, std::size_t stride);

} // namespace troupe::tensor

namespace troupe::tensor {

/// max_pool2d(relu(x)) in one pass (max commutes with the monotone relu): same values, same
/// gradient (to the window's first maximum when it is positive, else nowhere), without
/// materialising relu(x) or zero-filling its gradient. Falls back to the two ops unless kernel
/// and stride are both 2.
var relu_max_pool2d(const var& x, std::size_t kernel, std::size_t stride);

} // namespace troupe::tensor
