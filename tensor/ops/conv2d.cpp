#include "tensor/ops/conv2d.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include "common/error.hpp"
#include "tensor/blas.hpp"
#include "tensor/ops/conv2d_dnnl.hpp"

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
                const auto ih = static_cast<std::ptrdiff_t>(oh * g.sh + ki) - static_cast<std::ptrdiff_t>(g.ph);
                const auto iw = static_cast<std::ptrdiff_t>(ow * g.sw + kj) - static_cast<std::ptrdiff_t>(g.pw);
                if (ih < 0 || iw < 0 || ih >= static_cast<std::ptrdiff_t>(g.h) ||
                    iw >= static_cast<std::ptrdiff_t>(g.w))
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
                const auto ih = static_cast<std::ptrdiff_t>(oh * g.sh + ki) - static_cast<std::ptrdiff_t>(g.ph);
                const auto iw = static_cast<std::ptrdiff_t>(ow * g.sw + kj) - static_cast<std::ptrdiff_t>(g.pw);
                if (ih < 0 || iw < 0 || ih >= static_cast<std::ptrdiff_t>(g.h) ||
                    iw >= static_cast<std::ptrdiff_t>(g.w))
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

/// Σ x[0..n) with 16 independent partial sums: a single running sum is one long dependency
/// chain the compiler may not reorder (no -ffast-math), and was the largest cost of conv1's backward.
float sum_lanes(const float* x, std::size_t n) {
  constexpr std::size_t lanes = 16;
  float acc[lanes] = {};
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes)
    for (std::size_t l = 0; l < lanes; ++l)
      acc[l] += x[i + l];
  float s = 0.0f;
  for (std::size_t l = 0; l < lanes; ++l)
    s += acc[l];
  for (; i < n; ++i)
    s += x[i];
  return s;
}

/// Fast forward, one image at a time: col_i [CKK, OHW] = im2col(x_i); y_i [OC, OHW] = w · col_i + b.
/// Per-image GEMMs write straight into NCHW (no transposes) and keep col_i in cache. With
/// keep_cols, `cols` receives every image's col_i for backward; otherwise it is one image's scratch.
void conv2d_forward_gemm(const float* x, const float* w, const float* b, float* y, const conv2d_geometry& g,
                         bool keep_cols, std::vector<float>& cols) {
  const std::size_t ohw = g.ohw(), ckk = g.ckk();
  cols.resize((keep_cols ? g.n : 1) * ckk * ohw);
  for (std::size_t i = 0; i < g.n; ++i) {
    float* col = cols.data() + (keep_cols ? i * ckk * ohw : 0);
    im2col(x + i * g.chw(), 1, g, col, ohw);
    float* yi = y + i * g.oc * ohw;
    if (b)
      for (std::size_t o = 0; o < g.oc; ++o)
        std::fill_n(yi + o * ohw, ohw, b[o]);
    blas::gemm(false, false, g.oc, ohw, ckk, 1.0f, w, ckk, col, ohw, b ? 1.0f : 0.0f, yi, ohw);
  }
}

/// Fast backward from the forward's im2col matrices; accumulates into non-null dx, dw, db.
void conv2d_backward_gemm(const float* w, const float* dy, const std::vector<float>& cols, float* dx, float* dw,
                          float* db, const conv2d_geometry& g) {
  const std::size_t ohw = g.ohw(), ckk = g.ckk();
  std::vector<float> dcol(dx ? ckk * ohw : 0);
  for (std::size_t i = 0; i < g.n; ++i) {
    const float* dyi = dy + i * g.oc * ohw; // [OC, OHW]
    if (db)
      for (std::size_t o = 0; o < g.oc; ++o)
        db[o] += sum_lanes(dyi + o * ohw, ohw);
    if (dw) // dw [OC, CKK] += dy_i · col_iᵀ
      blas::gemm(false, true, g.oc, ckk, ohw, 1.0f, dyi, ohw, cols.data() + i * ckk * ohw, ohw, 1.0f, dw, ckk);
    if (dx) { // dcol [CKK, OHW] = wᵀ · dy_i, scattered back onto image i
      blas::gemm(true, false, ckk, ohw, g.oc, 1.0f, w, ckk, dyi, ohw, 0.0f, dcol.data(), ohw);
      col2im_add(dcol.data(), 1, g, ohw, dx + i * g.chw());
    }
  }
}

std::atomic<conv_algo> selected_backend{conv_algo::automatic};

} // namespace

bool conv_algo_available(conv_algo algo) {
  return algo != conv_algo::dnnl || dnnl_conv::available();
}

void set_conv_backend(conv_algo algo) {
  TROUPE_ENFORCE(algo != conv_algo::selected,
                 "set_conv_backend needs a backend (naive, gemm, dnnl or auto), not 'selected'");
  if (algo == conv_algo::dnnl)
    dnnl_conv::require();
  selected_backend = algo;
}

conv_algo conv_backend() {
  return selected_backend;
}

conv_algo auto_conv_algo(const conv2d_geometry& g) {
  return g.c > 3 && dnnl_conv::available() ? conv_algo::dnnl : conv_algo::im2col_gemm;
}

conv_algo parse_conv_algo(std::string_view name) {
  for (conv_algo a : {conv_algo::naive, conv_algo::im2col_gemm, conv_algo::dnnl, conv_algo::automatic})
    if (name == conv_algo_name(a))
      return a;
  TROUPE_ENFORCE(false, "unknown conv2d backend '{}': expected naive, gemm, dnnl or auto", name);
  return conv_algo::selected; // unreachable
}

std::string_view conv_algo_name(conv_algo algo) {
  switch (algo) {
  case conv_algo::im2col_gemm:
    return "gemm";
  case conv_algo::naive:
    return "naive";
  case conv_algo::dnnl:
    return "dnnl";
  case conv_algo::automatic:
    return "auto";
  case conv_algo::selected:
    break;
  }
  return "selected";
}

var conv2d(const var& x, const var& w, const var& b, std::size_t stride, std::size_t padding, conv_algo algo) {
  return conv2d(x, w, b, conv2d_params::square(stride, padding), algo);
}

var conv2d(const var& x, const var& w, const var& b, const conv2d_params& p, conv_algo algo) {
  const conv2d_geometry g = make_conv2d_geometry(x.shape(), w.shape(), p);
  const bool has_bias = b.defined();
  if (has_bias)
    TROUPE_ENFORCE(b.shape() == shape_t{g.oc}, "conv2d bias must be [{}], got {}", g.oc, shape_str(b.shape()));
  array out = array::from_shape({g.n, g.oc, g.oh, g.ow});
  const float* bias = has_bias ? b.value().data() : nullptr;
  std::vector<var> inputs{x, w};
  if (has_bias)
    inputs.push_back(b);

  if (algo == conv_algo::selected)
    algo = selected_backend;
  if (algo == conv_algo::automatic)
    algo = auto_conv_algo(g);
  const bool needs_grad = grad_enabled() && (x.requires_grad() || w.requires_grad() || (has_bias && b.requires_grad()));

  if (algo == conv_algo::naive) {
    kernels::conv2d_forward_naive(x.value().data(), w.value().data(), bias, out.data(), g);
    return make_result(std::move(out), std::move(inputs), [g](node& self) {
      node& nx = *self.inputs[0];
      node& nw = *self.inputs[1];
      float* db =
          self.inputs.size() > 2 && self.inputs[2]->requires_grad ? self.inputs[2]->grad_buffer().data() : nullptr;
      kernels::conv2d_backward_naive(nx.value.data(), nw.value.data(), self.grad.data(),
                                     nx.requires_grad ? nx.grad_buffer().data() : nullptr,
                                     nw.requires_grad ? nw.grad_buffer().data() : nullptr, db, g);
    });
  }

  if (algo == conv_algo::dnnl) {
    auto saved = dnnl_conv::forward(x.value().data(), w.value().data(), bias, out.data(), g, needs_grad);
    return make_result(std::move(out), std::move(inputs), [g, saved](node& self) {
      node& nx = *self.inputs[0];
      node& nw = *self.inputs[1];
      float* db =
          self.inputs.size() > 2 && self.inputs[2]->requires_grad ? self.inputs[2]->grad_buffer().data() : nullptr;
      TROUPE_ENFORCE(saved, "conv2d (oneDNN): backward of a forward run without gradients");
      dnnl_conv::backward(*saved, nx.value.data(), nw.value.data(), self.grad.data(),
                          nx.requires_grad ? nx.grad_buffer().data() : nullptr,
                          nw.requires_grad ? nw.grad_buffer().data() : nullptr, db, g);
    });
  }

  auto cols = std::make_shared<std::vector<float>>();
  conv2d_forward_gemm(x.value().data(), w.value().data(), bias, out.data(), g, needs_grad, *cols);
  return make_result(std::move(out), std::move(inputs), [g, cols](node& self) {
    node& nx = *self.inputs[0];
    node& nw = *self.inputs[1];
    float* db =
        self.inputs.size() > 2 && self.inputs[2]->requires_grad ? self.inputs[2]->grad_buffer().data() : nullptr;
    conv2d_backward_gemm(nw.value.data(), self.grad.data(), *cols, nx.requires_grad ? nx.grad_buffer().data() : nullptr,
                         nw.requires_grad ? nw.grad_buffer().data() : nullptr, db, g);
  });
}

} // namespace troupe::tensor
