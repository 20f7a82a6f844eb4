#pragma once
/// Average pooling over NCHW batches (PyTorch's AvgPool2d without padding, floor mode, and global
/// average pooling, AdaptiveAvgPool2d(1) followed by flatten).

#include "tensor/var.hpp"

namespace troupe::tensor {

/// y [N, C, OH, OW] with OH = ⌊(H − kernel)/stride⌋ + 1: the mean of each kernel×kernel window
/// of x [N, C, H, W]; each input gets 1/kernel² of the gradient of every window it lies in.
var avg_pool2d(const var& x, std::size_t kernel, std::size_t stride);

/// y [N, C] = the mean of each H×W plane of x [N, C, H, W]; each input gets 1/(H·W) of its plane's gradient.
var global_avg_pool2d(const var& x);

} // namespace troupe::tensor
