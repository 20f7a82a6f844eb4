#include "tensor/optim/lr_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/error.hpp"

namespace troupe::optim {

namespace {
constexpr double pi = 3.14159265358979323846;
} // namespace

lr_schedule::lr_schedule(lr_schedule_options options) : options_(std::move(options)), shape_(shape::constant) {
  const auto& o = options_;
  if (o.kind == "constant")
    shape_ = shape::constant;
  else if (o.kind == "step")
    shape_ = shape::step;
  else if (o.kind == "cosine")
    shape_ = shape::cosine;
  else
    TROUPE_ENFORCE(false, "lr schedule: unknown kind '{}' (valid kinds: constant, step, cosine)", o.kind);

  TROUPE_ENFORCE(std::isfinite(o.base_lr) && o.base_lr >= 0.0f, "lr schedule: base_lr must be finite and >= 0, got {}",
                 o.base_lr);
  TROUPE_ENFORCE(std::isfinite(o.warmup_start_factor) && o.warmup_start_factor >= 0.0f && o.warmup_start_factor <= 1.0f,
                 "lr schedule: warmup_start_factor must be in [0, 1], got {}", o.warmup_start_factor);
  if (shape_ == shape::step) {
    TROUPE_ENFORCE(o.step_epochs > 0, "lr schedule: step_epochs must be > 0 for kind 'step'");
    TROUPE_ENFORCE(std::isfinite(o.gamma) && o.gamma >= 0.0f, "lr schedule: gamma must be finite and >= 0, got {}",
                   o.gamma);
  }
  if (shape_ == shape::cosine)
    TROUPE_ENFORCE(std::isfinite(o.min_lr) && o.min_lr >= 0.0f && o.min_lr <= o.base_lr,
                   "lr schedule: min_lr must be in [0, base_lr = {}] for kind 'cosine', got {}", o.base_lr, o.min_lr);
}

float lr_schedule::lr_at(std::size_t global_step, std::size_t steps_per_epoch, std::size_t total_steps) const {
  const auto& o = options_;
  const double base = o.base_lr;
  double lr = base;
  switch (shape_) {
  case shape::constant:
    break;
  case shape::step: {
    TROUPE_ENFORCE(steps_per_epoch > 0, "lr schedule: kind 'step' needs steps_per_epoch > 0");
    const std::size_t epoch = global_step / steps_per_epoch;
    lr = base * std::pow(static_cast<double>(o.gamma), static_cast<double>(epoch / o.step_epochs));
    break;
  }
  case shape::cosine: {
    TROUPE_ENFORCE(total_steps > o.warmup_steps,
                   "lr schedule: kind 'cosine' needs total_steps ({}) > warmup_steps ({})", total_steps,
                   o.warmup_steps);
    const double span = static_cast<double>(total_steps - o.warmup_steps);
    const double t =
        global_step <= o.warmup_steps ? 0.0 : std::min(static_cast<double>(global_step - o.warmup_steps), span);
    const double min = o.min_lr;
    lr = min + (base - min) * (1.0 + std::cos(pi * t / span)) / 2.0;
    break;
  }
  }
  if (global_step < o.warmup_steps) {
    const double start = o.warmup_start_factor;
    lr *= start + (1.0 - start) * static_cast<double>(global_step) / static_cast<double>(o.warmup_steps);
  }
  return static_cast<float>(lr);
}

} // namespace troupe::optim
