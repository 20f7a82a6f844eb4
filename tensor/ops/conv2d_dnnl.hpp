#pragma once
/// oneDNN's fp32 direct convolution as the conv2d backend conv_algo::dnnl (built with
/// TROUPE_WITH_DNNL; see docs/tensor-engine.md). Used through tensor::conv2d, tested against the
/// naive kernel like im2col+GEMM.
///
/// Primitives are cached per calling thread, keyed by the geometry, the bias and the thread count,
/// so the trainer's replicas never share a stream or a scratchpad. oneDNN picks its own (blocked)
/// layouts; x, w and dy are reordered into them, and results out of them, only where they differ
/// from NCHW / OIHW. Each call runs on blas::num_threads() OpenMP threads: 1 in the trainer, whose
/// replicas own the cores (train/gradient_engine.cpp), as for OpenBLAS.

#include <memory>
#include <string>

#include "tensor/ops/conv_geometry.hpp"

namespace troupe::tensor::dnnl_conv {

/// Whether this build has the backend (TROUPE_WITH_DNNL).
bool available();

/// Throws, saying how to get oneDNN, unless this build has the backend.
void require();

/// What forward keeps for backward: the copies of x and w it reordered into oneDNN's layouts.
struct saved;

/// y [N, OC, OH, OW] (overwritten) = x [N, C, H, W] ⋆ w [OC, C, KH, KW] + b [OC]; b may be nullptr.
/// With keep, returns what backward needs (x and w must stay unchanged until then); else nullptr.
std::shared_ptr<const saved> forward(const float* x, const float* w, const float* b, float* y, const conv2d_geometry& g,
                                     bool keep);

/// Accumulates into whichever of dx [N, C, H, W], dw [OC, C, KH, KW], db [OC] is not nullptr, from
/// dy [N, OC, OH, OW] and the forward's x, w and saved state.
void backward(const saved& s, const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
              const conv2d_geometry& g);

/// oneDNN's names of the implementations it picked for g on this thread (forward, backward data,
/// backward weights), e.g. "jit:avx512_core": what a benchmark prints beside its figures.
std::string implementations(const conv2d_geometry& g, bool bias);

} // namespace troupe::tensor::dnnl_conv
