#pragma once
/// Shapes of a 2-D cross-correlation (PyTorch's Conv2d) over an NCHW batch.

#include <cstddef>

#include "tensor/array.hpp"

namespace troupe::tensor {

struct conv2d_geometry {
  std::size_t n, c, h, w;  ///< input [N, C, H, W]
  std::size_t oc, kh, kw;  ///< weight [OC, C, KH, KW]
  std::size_t stride, pad; ///< same in both spatial dims; zero padding
  std::size_t oh, ow;      ///< output [N, OC, OH, OW], OH = ⌊(H + 2·pad − KH)/stride⌋ + 1

  std::size_t ckk() const { return c * kh * kw; } ///< rows of an im2col matrix
  std::size_t ohw() const { return oh * ow; }     ///< output pixels per image
  std::size_t chw() const { return c * h * w; }   ///< input elements per image
};

/// Validates the shapes and derives the output size; errors name the offending shapes.
conv2d_geometry make_conv2d_geometry(const shape_t& x, const shape_t& w, std::size_t stride, std::size_t pad);

/// im2col for `count` consecutive images starting at x: col [CKK, ld] with image b's output pixels
/// in columns [b·OHW, (b+1)·OHW); row (c, ki, kj) holds x[c, oh·s − pad + ki, ow·s − pad + kj] or 0.
void im2col(const float* x, std::size_t count, const conv2d_geometry& g, float* col, std::size_t ld);

/// The adjoint of im2col: adds every column entry back onto the input position it was read from.
void col2im_add(const float* col, std::size_t count, const conv2d_geometry& g, std::size_t ld, float* x);

} // namespace troupe::tensor
