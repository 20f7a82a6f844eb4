#pragma once
/// Builds a runnable model from its YAML description.

#include <cstdint>
#include <memory>

#include "config/model_spec.hpp"
#include "tensor/nn/sequential.hpp"

namespace troupe::train {

/// A sequential model for `spec`, initialised from `seed` (the same seed gives the same weights).
/// Conv2d and dense layers default to Kaiming-uniform initialisation with zero biases.
std::unique_ptr<nn::sequential> build_model(const config::model_spec& spec, std::uint64_t seed);

} // namespace troupe::train
