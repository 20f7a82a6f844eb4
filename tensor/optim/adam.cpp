#include "tensor/optim/adam.hpp"

#include <cmath>

#include "common/error.hpp"

namespace troupe::optim {

namespace {

adam_options checked(const adam_options& o) {
  TROUPE_ENFORCE(std::isfinite(o.beta1) && o.beta1 >= 0.0f && o.beta1 < 1.0f, "adam: beta1 must be in [0, 1), got {}",
                 o.beta1);
  TROUPE_ENFORCE(std::isfinite(o.beta2) && o.beta2 >= 0.0f && o.beta2 < 1.0f, "adam: beta2 must be in [0, 1), got {}",
                 o.beta2);
  TROUPE_ENFORCE(std::isfinite(o.eps) && o.eps >= 0.0f, "adam: eps must be finite and >= 0, got {}", o.eps);
  TROUPE_ENFORCE(std::isfinite(o.weight_decay) && o.weight_decay >= 0.0f,
                 "adam: weight_decay must be finite and >= 0, got {}", o.weight_decay);
  return o;
}

} // namespace

adam::adam(adam_options options) : options_(checked(options)), store_({"exp_avg", "exp_avg_sq"}) {}

void adam::step(const std::vector<param_slot>& params, float lr) {
  check_lr(lr);
  store_.bind(params, steps() == 0);

  // Scalars as torch forms them: Python doubles, cast to float when they reach the kernel.
  const double t = static_cast<double>(steps() + 1);
  const double b1 = as_written(options_.beta1);
  const double b2 = as_written(options_.beta2);
  const double wd = as_written(options_.weight_decay);
  const double lr_d = as_written(lr);
  const auto beta1 = static_cast<float>(b1);
  const auto beta2 = static_cast<float>(b2);
  const auto one_minus_beta1 = static_cast<float>(1.0 - b1);
  const auto one_minus_beta2 = static_cast<float>(1.0 - b2);
  const auto step_size = static_cast<float>(lr_d / (1.0 - std::pow(b1, t)));
  const auto bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(b2, t)));
  const float eps = options_.eps;
  const auto shrink = static_cast<float>(1.0 - lr_d * wd); // AdamW
  const auto l2 = static_cast<float>(wd);                  // Adam

  for (std::size_t i = 0; i < params.size(); ++i) {
    float* p = params[i].value;
    const float* g = params[i].grad;
    float* m = store_.at(i, 0);
    float* v = store_.at(i, 1);
    for (std::size_t j = 0; j < params[i].size; ++j) {
      float grad = g[j];
      if (wd != 0.0) {
        if (options_.decoupled)
          p[j] *= shrink;
        else
          grad += l2 * p[j];
      }
      m[j] = beta1 * m[j] + one_minus_beta1 * grad;
      v[j] = beta2 * v[j] + one_minus_beta2 * grad * grad;
      const float denom = std::sqrt(v[j]) / bias_correction2_sqrt + eps;
      p[j] -= step_size * (m[j] / denom);
    }
  }
  count_step();
}

optimizer_state adam::state() const {
  return {kind(), steps(), store_.buffers()};
}

void adam::load_state(const optimizer_state& state) {
  check_kind(state, kind());
  // t continues from the saved step, so both moments must be present once a step was taken.
  store_.assign(state.buffers, state.step == 0);
  set_steps(state.step);
}

} // namespace troupe::optim
