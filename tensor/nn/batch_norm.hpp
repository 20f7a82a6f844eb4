#pragma once
/// Batch normalisation layers (PyTorch's BatchNorm1d / BatchNorm2d with affine=True and
/// track_running_stats=True): parameters weight [C] (ones) and bias [C] (zeros); buffers
/// running_mean [C] (zeros), running_var [C] (ones) and num_batches_tracked [] (0).
///
/// In training mode a forward normalises with the batch's statistics, moves the running ones
/// towards them and counts the batch; in evaluation mode (eval()) it normalises with the running
/// statistics and changes nothing. The buffers carry PyTorch's names so that checkpoints and
/// replica averaging can find them; they are never parameters (optimizers must not touch them).

#include "tensor/nn/module.hpp"
#include "tensor/ops/batch_norm.hpp"

namespace troupe::nn {

class batch_norm : public module {
public:
  /// input_rank 2: [N, C] (BatchNorm1d); 4: [N, C, H, W] (BatchNorm2d).
  batch_norm(std::size_t features, std::size_t input_rank, float momentum = 0.1f, float eps = 1e-5f);
  var forward(const var& x) override;
  std::vector<named_parameter> parameters() override;
  /// running_mean, running_var, num_batches_tracked (a float: exact up to 2^24 batches).
  std::vector<named_buffer> buffers() override;
  std::string describe() const override;

  const tensor::array& running_mean() const { return running_mean_.value(); }
  const tensor::array& running_var() const { return running_var_.value(); }
  /// Training forwards so far.
  std::size_t num_batches_tracked() const { return static_cast<std::size_t>(num_batches_tracked_.value()()); }

private:
  std::size_t features_, rank_;
  tensor::batch_norm_options options_;
  var weight_, bias_;
  var running_mean_, running_var_, num_batches_tracked_;
};

/// BatchNorm1d: x [N, C].
class batch_norm1d : public batch_norm {
public:
  explicit batch_norm1d(std::size_t features, float momentum = 0.1f, float eps = 1e-5f)
      : batch_norm(features, 2, momentum, eps) {}
};

/// BatchNorm2d: x [N, C, H, W], statistics per channel over N, H and W.
class batch_norm2d : public batch_norm {
public:
  explicit batch_norm2d(std::size_t channels, float momentum = 0.1f, float eps = 1e-5f)
      : batch_norm(channels, 4, momentum, eps) {}
};

} // namespace troupe::nn
