#pragma once
/// Learning-rate schedules (constant, step decay, cosine) with optional linear warm-up.

#include <cstddef>
#include <string>

namespace troupe::optim {

/// Which schedule to follow and its parameters; only the fields of the chosen kind matter.
struct lr_schedule_options {
  std::string kind = "constant";    ///< "constant", "step" or "cosine".
  float base_lr = 0.01f;            ///< >= 0.
  std::size_t step_epochs = 30;     ///< step: decay every this many epochs (> 0).
  float gamma = 0.1f;               ///< step: decay factor (>= 0).
  float min_lr = 0;                 ///< cosine: final rate (in [0, base_lr]).
  std::size_t warmup_steps = 0;     ///< Linear warm-up length in steps, for any kind.
  float warmup_start_factor = 0.1f; ///< Factor at step 0 of the warm-up (in [0, 1]).
};

/// A learning rate as a pure function of the global step, so resuming only needs the step.
///
///   constant: base
///   step:     base · γ^⌊epoch / step_epochs⌋, epoch = ⌊global_step / steps_per_epoch⌋
///   cosine:   min + (base − min) · (1 + cos(π·t/T)) / 2, t = global_step − warmup_steps clamped
///             to [0, T], T = total_steps − warmup_steps
///   warm-up:  for global_step < warmup_steps the rate is multiplied by
///             start + (1 − start) · global_step / warmup_steps.
class lr_schedule {
public:
  /// A schedule; throws if the kind is unknown (naming the valid ones) or a value is out of range.
  explicit lr_schedule(lr_schedule_options options);

  /// The rate for `global_step` (0-based); step decay needs steps_per_epoch > 0 and cosine needs
  /// total_steps > warmup_steps.
  float lr_at(std::size_t global_step, std::size_t steps_per_epoch, std::size_t total_steps) const;

  /// The options this schedule was built with.
  const lr_schedule_options& options() const { return options_; }

private:
  enum class shape { constant, step, cosine };

  lr_schedule_options options_;
  shape shape_;
};

} // namespace troupe::optim
