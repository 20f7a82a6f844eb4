#include "tensor/ops/conv2d.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "common/error.hpp"
#include "tensor/blas.hpp"

namespace troupe::tensor {

namespace kernels {

void conv2d_forward_naive(const float* x, const float* w, const float* b, float* y, const conv2d_geometry& g) {
  for (std::size_t n = 0; n < g.n; ++n)
    for (std::size_t o = 0; o < g.oc; ++o)
      for (std::size_t oh = 0; oh < g.oh; ++oh)
        for (std::size_t ow = 0; ow < g.ow; ++ow) {
          double acc = b ? b[o] : 0.0;
          for (std::size_t c = 0; c < g.c; ++c)
            for (std::size_t ki = 0; ki < g.kh; ++ki)
              for (std::size_t kj = 0; kj < g.kw; ++kj) {
                const auto ih = static_cast<std::ptrdiff_t>(oh * g.stride + ki) - static_cast<std::ptrdiff_t>(g.pad);
                const auto iw = static_cast<std::ptrdiff_t>(ow * g.stride + kj) - static_cast<std::ptrdiff_t>(g.pad);
                if (ih < 0 || iw < 0 || ih >= static_cast<std::ptrdiff_t>(g.h) || iw >= static_cast<std::ptrdiff_t>(g.w))
                  continue;
                acc += static_cast<double>(x[((n * g.c + c) * g.h + ih) * g.w + iw]) *
                       w[((o * g.c + c) * g.kh + ki) * g.kw + kj];
              }
          y[((n * g.oc + o) * g.oh + oh) * g.ow + ow] = static_cast<float>(acc);
        }
}

void conv2d_backward_naive(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                           const conv2d_geometry& g) {
  for (std::size_t n = 0; n < g.n; ++n)
    for (std::size_t o = 0; o < g.oc; ++o)
      for (std::size_t oh = 0; oh < g.oh; ++oh)
        for (std::size_t ow = 0; ow < g.ow; ++ow) {
          const float d = dy[((n * g.oc + o) * g.oh + oh) * g.ow + ow];
          if (db)
            db[o] += d;
          for (std::size_t c = 0; c < g.c; ++c)
            for (std::size_t ki = 0; ki < g.kh; ++ki)
              for (std::size_t kj = 0; kj < g.kw; ++kj) {
                const auto ih = static_cast<std::ptrdiff_t>(oh * g.stride + ki) - static_cast<std::ptrdiff_t>(g.pad);
                const auto iw = static_cast<std::ptrdiff_t>(ow * g.stride + kj) - static_cast<std::ptrdiff_t>(g.pad);
                if (ih < 0 || iw < 0 || ih >= static_cast<std::ptrdiff_t>(g.h) || iw >= static_cast<std::ptrdiff_t>(g.w))
                  continue;
                const std::size_t xi = ((n * g.c + c) * g.h + ih) * g.w + iw;
                const std::size_t wi = ((o * g.c + c) * g.kh + ki) * g.kw + kj;
                if (dx)
                  dx[xi] += w[wi] * d;
                if (dw)
                  dw[wi] += x[xi] * d;
              }
        }
}

} // namespace kernels

namespace {

/// Images per im2col chunk: keep a chunk's column matrix around 1 MiB so the GEMM reads it from cache.
std::size_t chunk_images(const conv2d_geometry& g) {
  const std::size_t per_image = g.ckk() * g.ohw();
  return std::clamp<std::size_t>((std::size_t{1} << 18) / std::max<std::size_t>(per_image, 1), 1, std::max<std::size_t>(g.n, 1));
}

/// Fast forward. With keep_cols, `cols` receives the whole batch's im2col matrices (chunk after
/// chunk) for backward; otherwise it is one chunk's scratch space.
void conv2d_forward_gemm(const float* x, const float* w, const float* b, float* y, const conv2d_geometry& g,
                         bool keep_cols, std::vector<float>& cols) {
  const std::size_t chunk = chunk_images(g), ohw = g.ohw(), ckk = g.ckk();
  cols.resize((keep_cols ? g.n : chunk) * ckk * ohw);
  std::vector<float> tmp(g.oc * chunk * ohw);
  for (std::size_t b0 = 0; b0 < g.n; b0 += chunk) {
    const std::size_t cnt = std::min(chunk, g.n - b0), ld = cnt * ohw;
    float* col = cols.data() + (keep_cols ? b0 * ckk * ohw : 0);
    im2col(x + b0 * g.chw(), cnt, g, col, ld);
    // tmp [OC, cnt·OHW] = w [OC, CKK] · col [CKK, cnt·OHW]
    blas::gemm(false, false, g.oc, ld, ckk, 1.0f, w, ckk, col, ld, 0.0f, tmp.data(), ld);
    for (std::size_t bi = 0; bi < cnt; ++bi)
      for (std::size_t o = 0; o < g.oc; ++o) {
        const float bias = b ? b[o] : 0.0f;
        const float* src = tmp.data() + o * ld + bi * ohw;
        float* dst = y + ((b0 + bi) * g.oc + o) * ohw;
        for (std::size_t p = 0; p < ohw; ++p)
          dst[p] = src[p] + bias;
      }
  }
}

/// Fast backward from the forward's im2col matrices; accumulates into non-null dx, dw, db.
void conv2d_backward_gemm(const float* w, const float* dy, const std::vector<float>& cols, float* dx, float* dw,
                          float* db, const conv2d_geometry& g) {
  const std::size_t chunk = chunk_images(g), ohw = g.ohw(), ckk = g.ckk();
  std::vector<float> dyt(g.oc * chunk * ohw);
  std::vector<float> dcol(dx ? ckk * chunk * ohw : 0);
  for (std::size_t b0 = 0; b0 < g.n; b0 += chunk) {
    const std::size_t cnt = std::min(chunk, g.n - b0), ld = cnt * ohw;
    // dyt [OC, cnt·OHW] gathers the chunk's output gradients channel-major, matching the GEMM layout.
    for (std::size_t bi = 0; bi < cnt; ++bi)
      for (std::size_t o = 0; o < g.oc; ++o)
        std::copy_n(dy + ((b0 + bi) * g.oc + o) * ohw, ohw, dyt.data() + o * ld + bi * ohw);
    if (db)
      for (std::size_t o = 0; o < g.oc; ++o) {
        float s = 0.0f;
        const float* row = dyt.data() + o * ld;
        for (std::size_t p = 0; p < ld; ++p)
          s += row[p];
        db[o] += s;
      }
    if (dw)  // dw [OC, CKK] += dyt · colᵀ
      blas::gemm(false, true, g.oc, ckk, ld, 1.0f, dyt.data(), ld, cols.data() + b0 * ckk * ohw, ld, 1.0f, dw, ckk);
    if (dx) {  // dcol [CKK, cnt·OHW] = wᵀ · dyt, then scattered back onto the input
      blas::gemm(true, false, ckk, ld, g.oc, 1.0f, w, ckk, dyt.data(), ld, 0.0f, dcol.data(), ld);
      col2im_add(dcol.data(), cnt, g, ld, dx + b0 * g.chw());
    }
  }
}

} // namespace

var conv2d(const var& x, const var& w, const var& b, std::size_t stride, std::size_t padding, conv_algo algo) {
  const conv2d_geometry g = make_conv2d_geometry(x.shape(), w.shape(), stride, padding);
  const bool has_bias = b.defined();
  if (has_bias)
    TROUPE_ENFORCE(b.shape() == shape_t{g.oc}, "conv2d bias must be [{}], got {}", g.oc, shape_str(b.shape()));
  array out = array::from_shape({g.n, g.oc, g.oh, g.ow});
  const float* bias = has_bias ? b.value().data() : nullptr;
  std::vector<var> inputs{x, w};
  if (has_bias)
    inputs.push_back(b);

  if (algo == conv_algo::naive) {
    kernels::conv2d_forward_naive(x.value().data(), w.value().data(), bias, out.data(), g);
    return make_result(std::move(out), std::move(inputs), [g](node& self) {
      node& nx = *self.inputs[0];
      node& nw = *self.inputs[1];
      float* db = self.inputs.size() > 2 && self.inputs[2]->requires_grad ? self.inputs[2]->grad_buffer().data() : nullptr;
      kernels::conv2d_backward_naive(nx.value.data(), nw.value.data(), self.grad.data(),
                                     nx.requires_grad ? nx.grad_buffer().data() : nullptr,
                                     nw.requires_grad ? nw.grad_buffer().data() : nullptr, db, g);
    });
  }

  auto cols = std::make_shared<std::vector<float>>();
  const bool keep_cols = grad_enabled() && (x.requires_grad() || w.requires_grad() || (has_bias && b.requires_grad()));
  conv2d_forward_gemm(x.value().data(), w.value().data(), bias, out.data(), g, keep_cols, *cols);
  return make_result(std::move(out), std::move(inputs), [g, cols](node& self) {
    node& nx = *self.inputs[0];
    node& nw = *self.inputs[1];
    float* db = self.inputs.size() > 2 && self.inputs[2]->requires_grad ? self.inputs[2]->grad_buffer().data() : nullptr;
    conv2d_backward_gemm(nw.value.data(), self.grad.data(), *cols, nx.requires_grad ? nx.grad_buffer().data() : nullptr,
                         nw.requires_grad ? nw.grad_buffer().data() : nullptr, db, g);
  });
}

} // namespace troupe::tensor
