#pragma once
/// Which optimizer to build and its hyperparameters, and the factory that builds it.

#include <memory>
#include <string>

#include "tensor/optim/optimizer.hpp"

namespace troupe::optim {

/// The optimizer a run uses; only the fields of `kind` matter (the learning rate is the schedule's).
struct optimizer_options {
  std::string kind = "sgd"; ///< sgd | adam | adamw
  float momentum = 0.9f;    ///< sgd
  float dampening = 0.0f;   ///< sgd
  bool nesterov = false;    ///< sgd
  float weight_decay = 0.0f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f; ///< adam
};

/// An optimizer of the given kind; throws troupe::error naming the valid kinds otherwise.
std::unique_ptr<optimizer> make_optimizer(const optimizer_options& o);

} // namespace troupe::optim
