#pragma once
/// 2-D convolution (cross-correlation, as PyTorch's Conv2d) over NCHW batches.
///
/// The fast path lowers each image to an im2col matrix and runs one SGEMM per image and pass;
/// builds with oneDNN (TROUPE_WITH_DNNL) also offer its direct convolution (ops/conv2d_dnnl.hpp).
/// The naive direct loops are kept as the reference every fast path is tested against.

#include <string_view>

#include "tensor/ops/conv_geometry.hpp"
#include "tensor/var.hpp"

namespace troupe::tensor {

/// selected: the process-wide backend of set_conv_backend (automatic unless set otherwise).
/// automatic ("auto"): chosen per layer by its geometry (auto_conv_algo), so one model runs each
/// convolution on the backend that is faster for it.
enum class conv_algo { im2col_gemm, naive, dnnl, selected, automatic };

/// y [N, OC, OH, OW] = x [N, C, H, W] ⋆ w [OC, C, KH, KW] + b [OC]; b may be undefined.
var conv2d(const var& x, const var& w, const var& b, std::size_t stride = 1, std::size_t padding = 0,
           conv_algo algo = conv_algo::selected);

/// The same with stride and padding per dimension; the kernel's KH and KW come from w.
var conv2d(const var& x, const var& w, const var& b, const conv2d_params& p, conv_algo algo = conv_algo::selected);

/// Whether this build can run algo (dnnl needs TROUPE_WITH_DNNL; selected always can).
bool conv_algo_available(conv_algo algo);

/// Sets the backend conv_algo::selected stands for, in every thread; a forward and its backward
/// always use the same one. Throws for selected itself and for a backend this build lacks.
void set_conv_backend(conv_algo algo);

/// The backend conv_algo::selected stands for now.
conv_algo conv_backend();

/// "naive" | "gemm" | "dnnl" | "auto" (what TROUPE_CONV or a --conv flag holds); throws listing them.
conv_algo parse_conv_algo(std::string_view name);

/// The backend conv_algo::automatic runs a convolution of geometry `g` on: im2col+GEMM when its
/// input has at most 3 channels (an image's first layer: the GEMM's inner dimension C·KH·KW is
/// tiny, and oneDNN's reorder of the output back to NCHW costs as much as its convolution:
/// docs/tensor-engine.md), oneDNN otherwise; im2col+GEMM everywhere in a build without oneDNN.
/// Depends on the geometry only, so a model's results do not depend on timing.
conv_algo auto_conv_algo(const conv2d_geometry& g);

/// The name parse_conv_algo reads back ("selected" for selected).
std::string_view conv_algo_name(conv_algo algo);

namespace kernels {

/// Direct forward: y (overwritten) from x, w and optional b (nullptr = no bias).
void conv2d_forward_naive(const float* x, const float* w, const float* b, float* y, const conv2d_geometry& g);

/// Direct backward, accumulating into whichever of dx, dw, db is not nullptr.
void conv2d_backward_naive(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                           const conv2d_geometry& g);

} // namespace kernels

} // namespace troupe::tensor
