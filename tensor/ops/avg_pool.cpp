#include "tensor/ops/avg_pool.hpp"

#include "common/error.hpp"

namespace troupe::tensor {

var avg_pool2d(const var& x, std::size_t kernel, std::size_t stride) {
  const auto xs = x.shape();
  TROUPE_ENFORCE(xs.size() == 4, "avg_pool2d input must be [N, C, H, W], got {}", shape_str(xs));
  TROUPE_ENFORCE(kernel >= 1 && stride >= 1, "avg_pool2d kernel and stride must be >= 1");
  TROUPE_ENFORCE(xs[2] >= kernel && xs[3] >= kernel, "avg_pool2d kernel {} is larger than the input {}x{}", kernel,
                 xs[2], xs[3]);
  const std::size_t planes = xs[0] * xs[1], h = xs[2], w = xs[3];
  const std::size_t oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
  const float inv_area = 1.0f / static_cast<float>(kernel * kernel);
  array out = array::from_shape({xs[0], xs[1], oh, ow});
  const float* in = x.value().data();
  float* y = out.data();
  for (std::size_t p = 0; p < planes; ++p) {
    const float* plane = in + p * h * w;
    for (std::size_t i = 0; i < oh; ++i)
      for (std::size_t j = 0; j < ow; ++j) {
        float s = 0.0f;
        for (std::size_t ki = 0; ki < kernel; ++ki) {
          const float* row = plane + (i * stride + ki) * w + j * stride;
          for (std::size_t kj = 0; kj < kernel; ++kj)
            s += row[kj];
        }
        y[(p * oh + i) * ow + j] = s * inv_area;
      }
  }
  return make_result(std::move(out), {x}, [planes, h, w, oh, ow, kernel, stride, inv_area](node& self) {
    float* gx = self.inputs[0]->grad_buffer().data();
    const float* g = self.grad.data();
    for (std::size_t p = 0; p < planes; ++p) {
      float* plane = gx + p * h * w;
      for (std::size_t i = 0; i < oh; ++i)
        for (std::size_t j = 0; j < ow; ++j) {
          const float share = g[(p * oh + i) * ow + j] * inv_area;
          for (std::size_t ki = 0; ki < kernel; ++ki) {
            float* row = plane + (i * stride + ki) * w + j * stride;
            for (std::size_t kj = 0; kj < kernel; ++kj)
              row[kj] += share;
          }
        }
    }
  });
}

var global_avg_pool2d(const var& x) {
  const auto xs = x.shape();
  TROUPE_ENFORCE(xs.size() == 4 && xs[2] * xs[3] > 0, "global_avg_pool2d input must be [N, C, H, W], got {}",
                 shape_str(xs));
  const std::size_t planes = xs[0] * xs[1], area = xs[2] * xs[3];
  array out = array::from_shape({xs[0], xs[1]});
  const float* in = x.value().data();
  for (std::size_t p = 0; p < planes; ++p) {
    double s = 0.0;
    for (std::size_t k = 0; k < area; ++k)
      s += in[p * area + k];
    out.data()[p] = static_cast<float>(s / static_cast<double>(area));
  }
  return make_result(std::move(out), {x}, [planes, area](node& self) {
    float* gx = self.inputs[0]->grad_buffer().data();
    const float* g = self.grad.data();
    const float inv_area = 1.0f / static_cast<float>(area);
    for (std::size_t p = 0; p < planes; ++p) {
      const float share = g[p] * inv_area;
      for (std::size_t k = 0; k < area; ++k)
        gx[p * area + k] += share;
    }
  });
}

} // namespace troupe::tensor
