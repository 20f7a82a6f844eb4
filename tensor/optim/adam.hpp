#pragma once
/// Adam and AdamW (torch.optim.Adam / torch.optim.AdamW).

#include <string>
#include <vector>

#include "tensor/optim/buffer_store.hpp"
#include "tensor/optim/optimizer.hpp"

namespace troupe::optim {

/// Hyper-parameters of adam; the defaults are PyTorch's.
struct adam_options {
  float beta1 = 0.9f;     ///< In [0, 1).
  float beta2 = 0.999f;   ///< In [0, 1).
  float eps = 1e-8f;      ///< >= 0.
  float weight_decay = 0; ///< >= 0; L2 on the gradient, or decoupled decay when `decoupled`.
  bool decoupled = false; ///< AdamW: shrink p by (1 − lr·wd) instead of adding wd·p to g.
};

/// torch.optim.Adam (AdamW if decoupled), element by element in float, with t = steps() + 1:
///   decoupled ? p *= 1 − lr·wd : g += wd·p;  m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²;
///   p −= (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
/// Scalars (1 − β, bias corrections, lr·wd) are formed in double from the options' decimal values,
/// as PyTorch forms them from Python floats.
/// State: buffers "<param>.exp_avg" and "<param>.exp_avg_sq"; kind "adam", or "adamw" if decoupled.
class adam : public optimizer {
public:
  /// An Adam optimizer; throws if `options` are out of range.
  explicit adam(adam_options options = {});

  void step(const std::vector<param_slot>& params, float lr) override;
  optimizer_state state() const override;
  void load_state(const optimizer_state& state) override;
  std::string kind() const override { return options_.decoupled ? "adamw" : "adam"; }

  /// The hyper-parameters this optimizer was built with.
  const adam_options& options() const { return options_; }

private:
  adam_options options_;
  buffer_store store_;
};

} // namespace troupe::optim
