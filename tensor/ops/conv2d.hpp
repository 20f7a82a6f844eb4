#pragma once
/// 2-D convolution (cross-correlation, as PyTorch's Conv2d) over NCHW batches.
///
/// The fast path lowers each image to an im2col matrix and runs one SGEMM per image and pass;
/// the naive direct loops are kept as the reference the fast path is tested against.

#include "tensor/ops/conv_geometry.hpp"
#include "tensor/var.hpp"

namespace troupe::tensor {

enum class conv_algo { im2col_gemm, naive };

/// y [N, OC, OH, OW] = x [N, C, H, W] ⋆ w [OC, C, KH, KW] + b [OC]; b may be undefined.
var conv2d(const var& x, const var& w, const var& b, std::size_t stride = 1, std::size_t padding = 0,
           conv_algo algo = conv_algo::im2col_gemm);

/// The same with stride and padding per dimension; the kernel's KH and KW come from w.
var conv2d(const var& x, const var& w, const var& b, const conv2d_params& p, conv_algo algo = conv_algo::im2col_gemm);

namespace kernels {

/// Direct forward: y (overwritten) from x, w and optional b (nullptr = no bias).
void conv2d_forward_naive(const float* x, const float* w, const float* b, float* y, const conv2d_geometry& g);

/// Direct backward, accumulating into whichever of dx, dw, db is not nullptr.
void conv2d_backward_naive(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                           const conv2d_geometry& g);

} // namespace kernels

} // namespace troupe::tensor
