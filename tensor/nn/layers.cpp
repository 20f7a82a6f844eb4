#include "tensor/nn/layers.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "tensor/ops/activation.hpp"
#include "tensor/ops/avg_pool.hpp"
#include "tensor/ops/linear.hpp"
#include "tensor/ops/pool.hpp"
#include "tensor/ops/shape.hpp"

namespace troupe::nn {

dense::dense(std::size_t in, std::size_t out, init_kind init, rng& gen, bool bias) : in_(in), out_(out) {
  tensor::array w = tensor::zeros({out, in});
  initialize(w, init, in, out, gen);
  weight_ = var(std::move(w), true);
  if (bias)
    bias_ = var(tensor::zeros({out}), true);
}

var dense::forward(const var& x) {
  return tensor::linear(x, weight_, bias_);
}

std::vector<named_parameter> dense::parameters() {
  std::vector<named_parameter> p{{"weight", weight_}};
  if (bias_.defined())
    p.push_back({"bias", bias_});
  return p;
}

std::string dense::describe() const {
  return fmt::format("Dense({}, {})", in_, out_);
}

conv2d::conv2d(std::size_t in_channels, std::size_t out_channels, std::size_t kernel, std::size_t stride,
               std::size_t padding, init_kind init, rng& gen, bool bias)
    : conv2d(in_channels, out_channels, kernel, kernel, tensor::conv2d_params::square(stride, padding), init, gen,
             bias) {}

conv2d::conv2d(std::size_t in_channels, std::size_t out_channels, std::size_t kh, std::size_t kw,
               const tensor::conv2d_params& params, init_kind init, rng& gen, bool bias)
    : in_(in_channels), out_(out_channels), kh_(kh), kw_(kw), params_(params) {
  tensor::array w = tensor::zeros({out_channels, in_channels, kh, kw});
  initialize(w, init, in_channels * kh * kw, out_channels * kh * kw, gen);
  weight_ = var(std::move(w), true);
  if (bias)
    bias_ = var(tensor::zeros({out_channels}), true);
}

var conv2d::forward(const var& x) {
  return tensor::conv2d(x, weight_, bias_, params_, algo_);
}

std::vector<named_parameter> conv2d::parameters() {
  std::vector<named_parameter> p{{"weight", weight_}};
  if (bias_.defined())
    p.push_back({"bias", bias_});
  return p;
}

std::string conv2d::describe() const {
  const auto& p = params_;
  if (kh_ == kw_ && p.sh == p.sw && p.ph == p.pw)
    return fmt::format("Conv2d({}, {}, kernel={}, stride={}, padding={})", in_, out_, kh_, p.sh, p.ph);
  return fmt::format("Conv2d({}, {}, kernel=({}, {}), stride=({}, {}), padding=({}, {}))", in_, out_, kh_, kw_, p.sh,
                     p.sw, p.ph, p.pw);
}

max_pool2d::max_pool2d(std::size_t kernel, std::size_t stride) : kernel_(kernel), stride_(stride) {}

var max_pool2d::forward(const var& x) {
  return tensor::max_pool2d(x, kernel_, stride_);
}

std::string max_pool2d::describe() const {
  return fmt::format("MaxPool2d(kernel={}, stride={})", kernel_, stride_);
}

avg_pool2d::avg_pool2d(std::size_t kernel, std::size_t stride) : kernel_(kernel), stride_(stride) {}

var avg_pool2d::forward(const var& x) {
  return tensor::avg_pool2d(x, kernel_, stride_);
}

std::string avg_pool2d::describe() const {
  return fmt::format("AvgPool2d(kernel={}, stride={})", kernel_, stride_);
}

var global_avg_pool::forward(const var& x) {
  return tensor::global_avg_pool2d(x);
}

var activation::forward(const var& x) {
  switch (kind_) {
  case activation_kind::relu:
    return tensor::relu(x);
  case activation_kind::sigmoid:
    return tensor::sigmoid(x);
  case activation_kind::tanh:
    return tensor::tanh(x);
  case activation_kind::gelu:
    return tensor::gelu(x);
  }
  throw error("unknown activation");
}

std::string activation::describe() const {
  switch (kind_) {
  case activation_kind::relu:
    return "ReLU()";
  case activation_kind::sigmoid:
    return "Sigmoid()";
  case activation_kind::tanh:
    return "Tanh()";
  case activation_kind::gelu:
    return "GELU()";
  }
  return "?";
}

var leaky_relu::forward(const var& x) {
  return tensor::leaky_relu(x, slope_);
}

std::string leaky_relu::describe() const {
  return fmt::format("LeakyReLU(negative_slope={})", slope_);
}

var flatten::forward(const var& x) {
  return tensor::flatten(x);
}

dropout::dropout(float p, std::uint64_t seed) : p_(p), gen_(seed) {
  TROUPE_ENFORCE(p >= 0.0f && p < 1.0f, "dropout probability must be in [0, 1), got {}", p);
}

var dropout::forward(const var& x) {
  return tensor::dropout(x, p_, gen_, training_);
}

std::string dropout::describe() const {
  return fmt::format("Dropout(p={})", p_);
}

} // namespace troupe::nn
