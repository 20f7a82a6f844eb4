#pragma once
/// The interface every optimizer implements: update named flat parameters in place from their gradients.

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/optim/optimizer_state.hpp"
#include "tensor/optim/param_slot.hpp"

namespace troupe::optim {

/// Updates parameters from gradients, keeping per-parameter state keyed by parameter name.
///
/// Callers pass the same parameters, in the same order, at every step. state() and load_state()
/// make the optimizer resumable: loading a saved state into a fresh optimizer of the same
/// configuration and continuing gives bitwise the same parameters as never stopping.
class optimizer {
public:
  virtual ~optimizer();

  optimizer(const optimizer&) = delete;
  optimizer& operator=(const optimizer&) = delete;

  /// Applies one update with learning rate `lr` (finite, >= 0) to every parameter in `params`.
  virtual void step(const std::vector<param_slot>& params, float lr) = 0;

  /// A copy of the state needed to resume: kind, step count and every buffer.
  virtual optimizer_state state() const = 0;

  /// Replaces the state; throws if `state` is of another kind, or (now if parameters were already
  /// seen, else at the next step) if its buffers do not match the parameters by name and size.
  virtual void load_state(const optimizer_state& state) = 0;

  /// The optimizer's kind as recorded in its state, e.g. "sgd".
  virtual std::string kind() const = 0;

  /// Number of steps taken, including those restored by load_state().
  std::uint64_t steps() const { return steps_; }

protected:
  optimizer() = default;

  /// Records one completed step.
  void count_step() { ++steps_; }

  /// Sets the step count, for load_state().
  void set_steps(std::uint64_t steps) { steps_ = steps; }

  /// Throws unless `lr` is a finite, non-negative learning rate.
  static void check_lr(float lr);

  /// The double nearest to the shortest decimal that reads back as `value` (0.999f -> 0.999),
  /// so scalars such as 1 - beta2 are formed as PyTorch forms them from Python floats.
  static double as_written(float value);

  /// Throws unless `state.kind` equals `expected`.
  static void check_kind(const optimizer_state& state, const std::string& expected);

private:
  std::uint64_t steps_ = 0;
};

} // namespace troupe::optim
