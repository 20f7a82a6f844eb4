#include "tensor/optim/sgd.hpp"

#include <cmath>

#include "common/error.hpp"

namespace troupe::optim {

namespace {

sgd_options checked(const sgd_options& o) {
  TROUPE_ENFORCE(std::isfinite(o.momentum) && o.momentum >= 0.0f, "sgd: momentum must be finite and >= 0, got {}",
                 o.momentum);
  TROUPE_ENFORCE(std::isfinite(o.dampening) && o.dampening >= 0.0f && o.dampening <= 1.0f,
                 "sgd: dampening must be in [0, 1], got {}", o.dampening);
  TROUPE_ENFORCE(std::isfinite(o.weight_decay) && o.weight_decay >= 0.0f,
                 "sgd: weight_decay must be finite and >= 0, got {}", o.weight_decay);
  TROUPE_ENFORCE(!o.nesterov || (o.momentum > 0.0f && o.dampening == 0.0f),
                 "sgd: nesterov requires momentum > 0 and dampening == 0, got momentum {} and dampening {}", o.momentum,
                 o.dampening);
  return o;
}

} // namespace

sgd::sgd(sgd_options options)
    : options_(checked(options)),
      store_(options.momentum != 0.0f ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{}) {}

void sgd::step(const std::vector<param_slot>& params, float lr) {
  check_lr(lr);
  store_.bind(params, steps() == 0);

  const float momentum = options_.momentum;
  const float wd = options_.weight_decay;
  // PyTorch forms (1 - dampening) in double and hands it to a float kernel.
  const auto keep = static_cast<float>(1.0 - as_written(options_.dampening));
  const bool nesterov = options_.nesterov;

  for (std::size_t i = 0; i < params.size(); ++i) {
    float* p = params[i].value;
    const float* g = params[i].grad;
    const std::size_t n = params[i].size;
    if (momentum == 0.0f) {
      for (std::size_t j = 0; j < n; ++j) {
        const float d = wd != 0.0f ? g[j] + wd * p[j] : g[j];
        p[j] -= lr * d;
      }
      continue;
    }
    float* buf = store_.at(i, 0);
    const bool first = store_.created(i); // torch: momentum_buffer is None -> clone(d)
    for (std::size_t j = 0; j < n; ++j) {
      float d = wd != 0.0f ? g[j] + wd * p[j] : g[j];
      buf[j] = first ? d : momentum * buf[j] + keep * d;
      d = nesterov ? d + momentum * buf[j] : buf[j];
      p[j] -= lr * d;
    }
  }
  count_step();
}

optimizer_state sgd::state() const {
  return {kind(), steps(), store_.buffers()};
}

void sgd::load_state(const optimizer_state& state) {
  check_kind(state, kind());
  // A state saved before any step has no buffers yet; after one, every parameter must have its own.
  store_.assign(state.buffers, state.step == 0);
  set_steps(state.step);
}

} // namespace troupe::optim
