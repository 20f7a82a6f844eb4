#pragma once
/// Layers as modules: a forward function plus named parameters (PyTorch's nn.Module, minus hooks).

#include <memory>
#include <string>
#include <vector>

#include "tensor/var.hpp"

namespace troupe::nn {

using tensor::var;

/// A parameter and its name, e.g. "3.weight" — the key used by checkpoints, the wire and exports.
struct named_parameter {
  std::string name;
  var param;
};

/// A state tensor that is not a trainable parameter, and its name, e.g. "1.running_mean" (PyTorch's
/// buffers): checkpoints and replica averaging read and write it; optimizers never see it.
struct named_buffer {
  std::string name;
  var buffer; ///< never requires gradients; the module updates value() in place
};

class module {
public:
  virtual ~module() = default;
  /// Runs the layer; records the graph when gradients are enabled.
  virtual var forward(const var& x) = 0;
  /// Parameters with names relative to this module ("weight", "bias").
  virtual std::vector<named_parameter> parameters() { return {}; }
  /// Buffers with names relative to this module ("running_mean"); most layers have none.
  virtual std::vector<named_buffer> buffers() { return {}; }
  /// Switches training behaviour (dropout, batch statistics) on or off.
  virtual void train(bool on) { training_ = on; }
  /// Evaluation mode: train(false).
  void eval() { train(false); }
  bool training() const { return training_; }
  /// One-line description, e.g. "Conv2d(1, 32, kernel=3, stride=1, padding=0)".
  virtual std::string describe() const = 0;

protected:
  bool training_ = true;
};

using module_ptr = std::unique_ptr<module>;

} // namespace troupe::nn
