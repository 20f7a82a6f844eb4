#pragma once
/// The layers of Troupe's models. Weights use PyTorch's layouts and names so exports map 1:1.

#include "common/rng.hpp"
#include "tensor/nn/init.hpp"
#include "tensor/nn/module.hpp"
#include "tensor/ops/conv2d.hpp"

namespace troupe::nn {

/// Fully connected: y = x·Wᵀ + b, weight [out, in], bias [out] (zero-initialised).
class dense : public module {
public:
  dense(std::size_t in, std::size_t out, init_kind init, rng& gen, bool bias = true);
  var forward(const var& x) override;
  std::vector<named_parameter> parameters() override;
  std::string describe() const override;

private:
  std::size_t in_, out_;
  var weight_, bias_;
};

/// 2-D convolution: weight [OC, C, KH, KW], bias [OC] (zero-initialised).
class conv2d : public module {
public:
  /// A square kernel, one stride and one padding for both dimensions.
  conv2d(std::size_t in_channels, std::size_t out_channels, std::size_t kernel, std::size_t stride, std::size_t padding,
         init_kind init, rng& gen, bool bias = true);
  /// A kh×kw kernel with stride and padding per dimension.
  conv2d(std::size_t in_channels, std::size_t out_channels, std::size_t kh, std::size_t kw,
         const tensor::conv2d_params& params, init_kind init, rng& gen, bool bias = true);
  var forward(const var& x) override;
  std::vector<named_parameter> parameters() override;
  std::string describe() const override;
  /// Selects the kernel; by default the process-wide one (tensor::set_conv_backend). The naive
  /// one exists for testing the fast ones.
  void set_algo(tensor::conv_algo algo) { algo_ = algo; }

private:
  std::size_t in_, out_, kh_, kw_;
  tensor::conv2d_params params_;
  var weight_, bias_;
  tensor::conv_algo algo_ = tensor::conv_algo::selected;
};

class max_pool2d : public module {
public:
  max_pool2d(std::size_t kernel, std::size_t stride);
  var forward(const var& x) override;
  std::string describe() const override;
  std::size_t kernel() const { return kernel_; }
  std::size_t stride() const { return stride_; }

private:
  std::size_t kernel_, stride_;
};

/// Average pooling without padding, floor mode (PyTorch's AvgPool2d).
class avg_pool2d : public module {
public:
  avg_pool2d(std::size_t kernel, std::size_t stride);
  var forward(const var& x) override;
  std::string describe() const override;

private:
  std::size_t kernel_, stride_;
};

/// [N, C, H, W] -> [N, C]: the mean of each plane (AdaptiveAvgPool2d(1) followed by flatten).
class global_avg_pool : public module {
public:
  var forward(const var& x) override;
  std::string describe() const override { return "GlobalAvgPool()"; }
};

enum class activation_kind { relu, sigmoid, tanh, gelu };

class activation : public module {
public:
  explicit activation(activation_kind kind) : kind_(kind) {}
  var forward(const var& x) override;
  std::string describe() const override;
  activation_kind kind() const { return kind_; }

private:
  activation_kind kind_;
};

/// x for x > 0, negative_slope·x otherwise.
class leaky_relu : public module {
public:
  explicit leaky_relu(float negative_slope = 0.01f) : slope_(negative_slope) {}
  var forward(const var& x) override;
  std::string describe() const override;

private:
  float slope_;
};

class flatten : public module {
public:
  var forward(const var& x) override;
  std::string describe() const override { return "Flatten()"; }
};

/// Inverted dropout with its own seeded generator (so a run is reproducible).
class dropout : public module {
public:
  dropout(float p, std::uint64_t seed);
  var forward(const var& x) override;
  std::string describe() const override;
  rng& generator() { return gen_; }

private:
  float p_;
  rng gen_;
};

} // namespace troupe::nn
