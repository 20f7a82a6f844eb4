#pragma once
/// Builds a runnable model from its YAML description.

#include <cstdint>
#include <memory>

#include "config/model_spec.hpp"
#include "tensor/nn/module.hpp"

namespace troupe::train {

/// The model for `spec`, initialised from `seed` (the same seed gives the same weights): an
/// nn::sequential for a plain list of layers (no names, no inputs), otherwise an nn::graph whose
/// parameters are named after the layers' names (their indices for unnamed ones). Layers are
/// initialised in file order; conv2d and dense layers default to Kaiming-uniform initialisation
/// with zero biases.
nn::module_ptr build_model(const config::model_spec& spec, std::uint64_t seed);

} // namespace troupe::train
