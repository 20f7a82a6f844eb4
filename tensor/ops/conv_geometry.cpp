#include "tensor/ops/conv_geometry.hpp"

#include <algorithm>
#include <cstring>

#include "common/error.hpp"

namespace troupe::tensor {

conv2d_geometry make_conv2d_geometry(const shape_t& x, const shape_t& w, const conv2d_params& p) {
  TROUPE_ENFORCE(x.size() == 4, "conv2d input must be [N, C, H, W], got {}", shape_str(x));
  TROUPE_ENFORCE(w.size() == 4, "conv2d weight must be [OC, C, KH, KW], got {}", shape_str(w));
  TROUPE_ENFORCE(x[1] == w[1], "conv2d input has {} channels but the weight expects {} (input {}, weight {})", x[1],
                 w[1], shape_str(x), shape_str(w));
  TROUPE_ENFORCE(p.sh >= 1 && p.sw >= 1, "conv2d stride must be >= 1");
  TROUPE_ENFORCE(x[2] + 2 * p.ph >= w[2] && x[3] + 2 * p.pw >= w[3],
                 "conv2d kernel {}x{} is larger than the padded input {}x{}", w[2], w[3], x[2] + 2 * p.ph,
                 x[3] + 2 * p.pw);
  conv2d_geometry g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], p.sh, p.sw, p.ph, p.pw, 0, 0};
  g.oh = (g.h + 2 * p.ph - g.kh) / p.sh + 1;
  g.ow = (g.w + 2 * p.pw - g.kw) / p.sw + 1;
  return g;
}

conv2d_geometry make_conv2d_geometry(const shape_t& x, const shape_t& w, std::size_t stride, std::size_t pad) {
  return make_conv2d_geometry(x, w, conv2d_params::square(stride, pad));
}

namespace {

/// Range of output columns ow whose input column ow·sw − pw + kj lies inside [0, W).
std::pair<std::size_t, std::size_t> valid_cols(const conv2d_geometry& g, std::size_t kj) {
  // iw = ow*sw + kj - pw >= 0  <=>  ow >= ceil((pw - kj) / sw)
  std::size_t lo = 0;
  if (g.pw > kj)
    lo = (g.pw - kj + g.sw - 1) / g.sw;
  // iw <= W-1  <=>  ow <= (W - 1 + pw - kj) / sw
  std::size_t hi = 0; // exclusive
  if (g.w - 1 + g.pw >= kj)
    hi = std::min(g.ow, (g.w - 1 + g.pw - kj) / g.sw + 1);
  return {std::min(lo, hi), hi};
}

} // namespace

void im2col(const float* x, std::size_t count, const conv2d_geometry& g, float* col, std::size_t ld) {
  const std::size_t ohw = g.ohw();
  for (std::size_t c = 0; c < g.c; ++c)
    for (std::size_t ki = 0; ki < g.kh; ++ki)
      for (std::size_t kj = 0; kj < g.kw; ++kj) {
        float* row = col + ((c * g.kh + ki) * g.kw + kj) * ld;
        const auto [lo, hi] = valid_cols(g, kj);
        for (std::size_t b = 0; b < count; ++b) {
          const float* plane = x + b * g.chw() + c * g.h * g.w;
          float* dst_img = row + b * ohw;
          for (std::size_t oh = 0; oh < g.oh; ++oh) {
            float* dst = dst_img + oh * g.ow;
            const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * g.sh + ki) - static_cast<std::ptrdiff_t>(g.ph);
            if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(g.h)) {
              std::fill(dst, dst + g.ow, 0.0f);
              continue;
            }
            const float* src = plane + static_cast<std::size_t>(ih) * g.w;
            std::fill(dst, dst + lo, 0.0f);
            if (g.sw == 1) {
              const std::size_t iw0 = lo + kj - g.pw;
              std::memcpy(dst + lo, src + iw0, (hi - lo) * sizeof(float));
            } else {
              for (std::size_t ow = lo; ow < hi; ++ow)
                dst[ow] = src[ow * g.sw + kj - g.pw];
            }
            std::fill(dst + hi, dst + g.ow, 0.0f);
          }
        }
      }
}

void col2im_add(const float* col, std::size_t count, const conv2d_geometry& g, std::size_t ld, float* x) {
  const std::size_t ohw = g.ohw();
  for (std::size_t c = 0; c < g.c; ++c)
    for (std::size_t ki = 0; ki < g.kh; ++ki)
      for (std::size_t kj = 0; kj < g.kw; ++kj) {
        const float* row = col + ((c * g.kh + ki) * g.kw + kj) * ld;
        const auto [lo, hi] = valid_cols(g, kj);
        for (std::size_t b = 0; b < count; ++b) {
          float* plane = x + b * g.chw() + c * g.h * g.w;
          const float* src_img = row + b * ohw;
          for (std::size_t oh = 0; oh < g.oh; ++oh) {
            const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * g.sh + ki) - static_cast<std::ptrdiff_t>(g.ph);
            if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(g.h))
              continue;
            const float* src = src_img + oh * g.ow;
            float* dst = plane + static_cast<std::size_t>(ih) * g.w;
            for (std::size_t ow = lo; ow < hi; ++ow)
              dst[ow * g.sw + kj - g.pw] += src[ow];
          }
        }
      }
}

} // namespace troupe::tensor
