#pragma once
/// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch.optim.SGD).

#include <string>
#include <vector>

#include "tensor/optim/buffer_store.hpp"
#include "tensor/optim/optimizer.hpp"

namespace troupe::optim {

/// Hyper-parameters of sgd; the defaults give plain gradient descent.
struct sgd_options {
  float momentum = 0;     ///< >= 0; 0 keeps no momentum buffer.
  float dampening = 0;    ///< In [0, 1]; must be 0 with nesterov.
  float weight_decay = 0; ///< >= 0; L2 penalty added to the gradient.
  bool nesterov = false;  ///< Requires momentum > 0 and dampening == 0.
};

/// torch.optim.SGD, element by element in float:
///   d = g + wd·p;  if momentum ≠ 0: buf = d on a parameter's first step, else
///   buf = momentum·buf + (1 − dampening)·d;  d = nesterov ? d + momentum·buf : buf;  p −= lr·d.
/// State: one buffer "<param>.momentum_buffer" per parameter when momentum ≠ 0; kind "sgd".
class sgd : public optimizer {
public:
  /// An SGD optimizer; throws if `options` are out of range or nesterov is set without momentum > 0
  /// and dampening == 0.
  explicit sgd(sgd_options options = {});

  void step(const std::vector<param_slot>& params, float lr) override;
  optimizer_state state() const override;
  void load_state(const optimizer_state& state) override;
  std::string kind() const override { return "sgd"; }

  /// The hyper-parameters this optimizer was built with.
  const sgd_options& options() const { return options_; }

private:
  sgd_options options_;
  buffer_store store_;
};

} // namespace troupe::optim
