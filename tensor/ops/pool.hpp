#pragma once
/// Max pooling over NCHW batches (PyTorch's MaxPool2d without padding, floor mode).

#include "tensor/var.hpp"

namespace troupe::tensor {

/// y [N, C, OH, OW] with OH = ⌊(H − kernel)/stride⌋ + 1; the gradient goes to each window's
/// argmax (the first maximum in row-major order when there are ties).
var max_pool2d(const var& x, std::size_t kernel, std::size_t stride);

} // namespace troupe::tensor
