#include "tensor/nn/batch_norm.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::nn {

batch_norm::batch_norm(std::size_t features, std::size_t input_rank, float momentum, float eps)
    : features_(features), rank_(input_rank), options_{true, momentum, eps} {
  TROUPE_ENFORCE(features > 0, "batch_norm needs at least one feature");
  TROUPE_ENFORCE(input_rank == 2 || input_rank == 4, "batch_norm input rank must be 2 or 4, got {}", input_rank);
  TROUPE_ENFORCE(momentum >= 0.0f && momentum <= 1.0f, "batch_norm momentum must be in [0, 1], got {}", momentum);
  TROUPE_ENFORCE(eps > 0.0f, "batch_norm eps must be positive, got {}", eps);
  weight_ = var(tensor::zeros({features}) + 1.0f, true);
  bias_ = var(tensor::zeros({features}), true);
  running_mean_ = var(tensor::zeros({features}));
  running_var_ = var(tensor::zeros({features}) + 1.0f);
  num_batches_tracked_ = var(tensor::zeros({}));
}

var batch_norm::forward(const var& x) {
  TROUPE_ENFORCE(x.shape().size() == rank_, "{} expects an input of rank {}, got {}", describe(), rank_,
                 tensor::shape_str(x.shape()));
  options_.training = training_;
  var y = tensor::batch_norm(x, weight_, bias_, running_mean_.value(), running_var_.value(), options_);
  if (training_)
    num_batches_tracked_.value()() += 1.0f;
  return y;
}

std::vector<named_parameter> batch_norm::parameters() {
  return {{"weight", weight_}, {"bias", bias_}};
}

std::vector<named_buffer> batch_norm::buffers() {
  return {
      {"running_mean", running_mean_}, {"running_var", running_var_}, {"num_batches_tracked", num_batches_tracked_}};
}

std::string batch_norm::describe() const {
  return fmt::format("BatchNorm{}d({}, eps={}, momentum={})", rank_ == 2 ? 1 : 2, features_, options_.eps,
                     options_.momentum);
}

} // namespace troupe::nn
