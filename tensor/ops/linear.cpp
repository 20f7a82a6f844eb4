#include "tensor/ops/linear.hpp"

#include "common/error.hpp"
#include "tensor/blas.hpp"

namespace troupe::tensor {

var matmul(const var& a, const var& b) {
  const auto as = a.shape();
  const auto bs = b.shape();
  TROUPE_ENFORCE(as.size() == 2 && bs.size() == 2 && as[1] == bs[0], "matmul needs [M, K] x [K, N], got {} x {}",
                 shape_str(as), shape_str(bs));
  const std::size_t m = as[0], k = as[1], n = bs[1];
  array out = array::from_shape({m, n});
  blas::gemm(false, false, m, n, k, 1.0f, a.value().data(), k, b.value().data(), n, 0.0f, out.data(), n);
  return make_result(std::move(out), {a, b}, [m, k, n](node& self) {
    node& na = *self.inputs[0];
    node& nb = *self.inputs[1];
    if (na.requires_grad) // dA [M,K] += dC [M,N] · Bᵀ
      blas::gemm(false, true, m, k, n, 1.0f, self.grad.data(), n, nb.value.data(), n, 1.0f, na.grad_buffer().data(), k);
    if (nb.requires_grad) // dB [K,N] += Aᵀ · dC
      blas::gemm(true, false, k, n, m, 1.0f, na.value.data(), k, self.grad.data(), n, 1.0f, nb.grad_buffer().data(), n);
  });
}

var linear(const var& x, const var& w, const var& b) {
  const auto xs = x.shape();
  const auto ws = w.shape();
  TROUPE_ENFORCE(xs.size() == 2 && ws.size() == 2 && xs[1] == ws[1],
                 "linear needs x [N, in] and w [out, in], got x {} and w {}", shape_str(xs), shape_str(ws));
  const std::size_t n = xs[0], in = xs[1], out_f = ws[0];
  const bool has_bias = b.defined();
  if (has_bias)
    TROUPE_ENFORCE(b.shape() == shape_t{out_f}, "linear bias must be [{}], got {}", out_f, shape_str(b.shape()));
  array out = array::from_shape({n, out_f});
  float* y = out.data();
  if (has_bias) {
    const float* bv = b.value().data();
    for (std::size_t i = 0; i < n; ++i)
      std::copy(bv, bv + out_f, y + i * out_f);
  }
  // y [N,out] (+)= x [N,in] · wᵀ
  blas::gemm(false, true, n, out_f, in, 1.0f, x.value().data(), in, w.value().data(), in, has_bias ? 1.0f : 0.0f, y,
             out_f);
  std::vector<var> inputs{x, w};
  if (has_bias)
    inputs.push_back(b);
  return make_result(std::move(out), std::move(inputs), [n, in, out_f](node& self) {
    node& nx = *self.inputs[0];
    node& nw = *self.inputs[1];
    const float* dy = self.grad.data();
    if (nx.requires_grad) // dx [N,in] += dy [N,out] · w [out,in]
      blas::gemm(false, false, n, in, out_f, 1.0f, dy, out_f, nw.value.data(), in, 1.0f, nx.grad_buffer().data(), in);
    if (nw.requires_grad) // dw [out,in] += dyᵀ · x
      blas::gemm(true, false, out_f, in, n, 1.0f, dy, out_f, nx.value.data(), in, 1.0f, nw.grad_buffer().data(), in);
    if (self.inputs.size() > 2 && self.inputs[2]->requires_grad) { // db += Σ_rows dy
      float* db = self.inputs[2]->grad_buffer().data();
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < out_f; ++j)
          db[j] += dy[i * out_f + j];
    }
  });
}

} // namespace troupe::tensor
