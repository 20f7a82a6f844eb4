#pragma once
/// Shapes of a 2-D cross-correlation (PyTorch's Conv2d) over an NCHW batch.

#include <cstddef>

#include "tensor/array.hpp"

namespace troupe::tensor {

/// Stride and zero padding per spatial dimension (PyTorch's stride=(sh, sw), padding=(ph, pw)).
struct conv2d_params {
  std::size_t sh = 1, sw = 1; ///< stride along H and W
  std::size_t ph = 0, pw = 0; ///< zero padding on both sides of H and of W

  /// The same stride and padding in both dimensions (PyTorch's int arguments).
  static conv2d_params square(std::size_t stride, std::size_t pad) { return {stride, stride, pad, pad}; }
};

struct conv2d_geometry {
  std::size_t n, c, h, w; ///< input [N, C, H, W]
  std::size_t oc, kh, kw; ///< weight [OC, C, KH, KW]
  std::size_t sh, sw;     ///< stride along H and W
  std::size_t ph, pw;     ///< zero padding along H and W
  std::size_t oh, ow;     ///< output [N, OC, OH, OW], OH = ⌊(H + 2·ph − KH)/sh⌋ + 1, OW likewise

  std::size_t ckk() const { return c * kh * kw; } ///< rows of an im2col matrix
  std::size_t ohw() const { return oh * ow; }     ///< output pixels per image
  std::size_t chw() const { return c * h * w; }   ///< input elements per image
};

/// Validates the shapes and derives the output size; errors name the offending shapes.
conv2d_geometry make_conv2d_geometry(const shape_t& x, const shape_t& w, const conv2d_params& p);

/// The same with one stride and one padding for both dimensions.
conv2d_geometry make_conv2d_geometry(const shape_t& x, const shape_t& w, std::size_t stride, std::size_t pad);

/// im2col for `count` consecutive images starting at x: col [CKK, ld] with image b's output pixels
/// in columns [b·OHW, (b+1)·OHW); row (c, ki, kj) holds x[c, oh·sh − ph + ki, ow·sw − pw + kj] or 0.
void im2col(const float* x, std::size_t count, const conv2d_geometry& g, float* col, std::size_t ld);

/// The adjoint of im2col: adds every column entry back onto the input position it was read from.
void col2im_add(const float* col, std::size_t count, const conv2d_geometry& g, std::size_t ld, float* x);

} // namespace troupe::tensor
