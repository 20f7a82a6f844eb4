#include "tensor/ops/pool.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "common/error.hpp"
#include "tensor/ops/activation.hpp"

namespace troupe::tensor {

var max_pool2d(const var& x, std::size_t kernel, std::size_t stride) {
  const auto xs = x.shape();
  TROUPE_ENFORCE(xs.size() == 4, "max_pool2d input must be [N, C, H, W], got {}", shape_str(xs));
  TROUPE_ENFORCE(kernel >= 1 && stride >= 1, "max_pool2d kernel and stride must be >= 1");
  TROUPE_ENFORCE(xs[2] >= kernel && xs[3] >= kernel, "max_pool2d kernel {} is larger than the input {}x{}", kernel,
                 xs[2], xs[3]);
  const std::size_t planes = xs[0] * xs[1], h = xs[2], w = xs[3];
  const std::size_t oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
  array out = array::from_shape({xs[0], xs[1], oh, ow});
  const bool record = grad_enabled() && x.requires_grad();
  // argmax[i] = offset of output i's maximum inside its input plane.
  auto argmax = std::make_shared<std::vector<std::uint32_t>>(record ? out.size() : 0);
  const float* in = x.value().data();
  float* y = out.data();
  std::uint32_t* am = record ? argmax->data() : nullptr;
  for (std::size_t p = 0; p < planes; ++p) {
    const float* plane = in + p * h * w;
    for (std::size_t i = 0; i < oh; ++i) {
      float* yrow = y + (p * oh + i) * ow;
      std::uint32_t* arow = am ? am + (p * oh + i) * ow : nullptr;
      if (kernel == 2 && stride == 2) {
        // The common case, branch-free: with random data a compare-and-branch mispredicts half the time.
        const float* r0 = plane + 2 * i * w;
        const float* r1 = r0 + w;
        const auto base = static_cast<std::uint32_t>(2 * i * w);
        const auto w32 = static_cast<std::uint32_t>(w);
        // Arithmetic on 0/1 comparison results (no ternaries) so the compiler emits
        // vector blends; strict '>' keeps the first maximum in row-major order on ties.
        if (!arow) {
          for (std::size_t j = 0; j < ow; ++j)
            yrow[j] = std::max(std::max(r0[2 * j], r0[2 * j + 1]), std::max(r1[2 * j], r1[2 * j + 1]));
          continue;
        }
        for (std::size_t j = 0; j < ow; ++j) {
          const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
          const std::uint32_t gt_ab = b > a, gt_cd = d > c;
          const float m01 = std::max(a, b), m23 = std::max(c, d);
          const std::uint32_t lower = m23 > m01;
          yrow[j] = std::max(m01, m23);
          arow[j] = base + static_cast<std::uint32_t>(2 * j) + (1 - lower) * gt_ab + lower * (w32 + gt_cd);
        }
        continue;
      }
      for (std::size_t j = 0; j < ow; ++j) {
        std::size_t best = i * stride * w + j * stride;
        float m = plane[best];
        for (std::size_t ki = 0; ki < kernel; ++ki) {
          const std::size_t row = (i * stride + ki) * w + j * stride;
          for (std::size_t kj = 0; kj < kernel; ++kj) {
            const bool greater = plane[row + kj] > m;
            m = greater ? plane[row + kj] : m;
            best = greater ? row + kj : best;
          }
        }
        yrow[j] = m;
        if (arow)
          arow[j] = static_cast<std::uint32_t>(best);
      }
    }
  }
  return make_result(std::move(out), {x}, [argmax, h, w, oh, ow](node& self) {
    float* gx = self.inputs[0]->grad_buffer().data();
    const float* g = self.grad.data();
    const std::size_t per_plane = oh * ow;
    for (std::size_t o = 0, n = self.grad.size(); o < n; ++o)
      gx[(o / per_plane) * h * w + (*argmax)[o]] += g[o];
  });
}

var relu_max_pool2d(const var& x, std::size_t kernel, std::size_t stride) {
  const auto xs = x.shape();
  if (kernel != 2 || stride != 2 || xs.size() != 4 || xs[2] < 2 || xs[3] < 2)
    return max_pool2d(relu(x), kernel, stride);
  const std::size_t planes = xs[0] * xs[1], h = xs[2], w = xs[3], oh = h / 2, ow = w / 2;
  array out = array::from_shape({xs[0], xs[1], oh, ow});
  const bool record = grad_enabled() && x.requires_grad();
  // code[o] = position of output o's maximum in its 2x2 window (0..3, row-major), or 4 when the
  // maximum is <= 0 and relu passes no gradient.
  auto code = std::make_shared<std::vector<std::uint8_t>>(record ? out.size() : 0);
  const float* in = x.value().data();
  float* y = out.data();
  for (std::size_t p = 0; p < planes; ++p)
    for (std::size_t i = 0; i < oh; ++i) {
      const float* r0 = in + p * h * w + 2 * i * w;
      const float* r1 = r0 + w;
      float* yrow = y + (p * oh + i) * ow;
      if (!record) {
        for (std::size_t j = 0; j < ow; ++j)
          yrow[j] = std::max(std::max(std::max(r0[2 * j], r0[2 * j + 1]), std::max(r1[2 * j], r1[2 * j + 1])), 0.0f);
        continue;
      }
      std::uint8_t* crow = code->data() + (p * oh + i) * ow;
      for (std::size_t j = 0; j < ow; ++j) {
        const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
        const std::uint32_t gt_ab = b > a, gt_cd = d > c;
        const float m01 = std::max(a, b), m23 = std::max(c, d);
        const std::uint32_t lower = m23 > m01;
        const float m = std::max(m01, m23);
        const std::uint32_t positive = m > 0.0f;
        yrow[j] = positive ? m : 0.0f;
        const std::uint32_t pos = (1 - lower) * gt_ab + lower * (2 + gt_cd);
        crow[j] = static_cast<std::uint8_t>(positive * pos + (1 - positive) * 4);
      }
    }
  return make_result(std::move(out), {x}, [code, planes, h, w, oh, ow](node& self) {
    node& in_node = *self.inputs[0];
    // A fresh gradient buffer is written whole (no zero fill first); otherwise accumulate.
    const bool fresh = in_node.grad.size() != in_node.value.size();
    if (fresh)
      in_node.grad = array::from_shape(in_node.value.shape());
    float* gx = in_node.grad.data();
    const float* g = self.grad.data();
    const std::uint8_t* cd = code->data();
    for (std::size_t p = 0; p < planes; ++p) {
      float* plane = gx + p * h * w;
      for (std::size_t i = 0; i < oh; ++i) {
        float* r0 = plane + 2 * i * w;
        float* r1 = r0 + w;
        const float* grow = g + (p * oh + i) * ow;
        const std::uint8_t* crow = cd + (p * oh + i) * ow;
        if (fresh) {
          // Bit masks instead of branches: the window position that won gets the gradient.
          for (std::size_t j = 0; j < ow; ++j) {
            std::uint32_t v;
            std::memcpy(&v, &grow[j], sizeof v);
            const std::uint32_t k = crow[j];
            const std::uint32_t win[4] = {v & (0u - (k == 0)), v & (0u - (k == 1)), v & (0u - (k == 2)),
                                          v & (0u - (k == 3))};
            std::memcpy(&r0[2 * j], &win[0], 2 * sizeof(float));
            std::memcpy(&r1[2 * j], &win[2], 2 * sizeof(float));
          }
          if (w % 2) {
            r0[w - 1] = 0.0f;
            r1[w - 1] = 0.0f;
          }
        } else {
          for (std::size_t j = 0; j < ow; ++j) {
            const std::uint8_t k = crow[j];
            if (k < 4)
              (k < 2 ? r0 : r1)[2 * j + (k & 1)] += grow[j];
          }
        }
      }
      if (fresh && h % 2)
        std::fill_n(plane + (h - 1) * w, w, 0.0f);
    }
  });
}

} // namespace troupe::tensor
