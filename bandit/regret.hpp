#pragma once
/// Regret as the authors evaluate it (FED_BANDIT.md):
///   R(T) = Σ_{t≤T} M(t)·(μ* − μ_{π(t)}) + C·Σ_{communicating phases p} M(p).
/// The ledger knows the true means; the algorithms never see it.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bandit/regret_curve.hpp"
#include "bandit/server_state.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

class regret_ledger {
public:
  /// A ledger that also records R(t) at the ascending time steps `sample_at` (none: no curve).
  explicit regret_ledger(const config::bandit_params& p, std::vector<std::uint64_t> sample_at = {});

  /// Charges a phase: M(p) clients pull K_p round-robin for plan.steps time steps, plus C·M(p)
  /// if it uploads. A cut phase charges the first (steps mod |K_p|) arms of K_p once more.
  void add_phase(const phase_plan& plan);
  /// Charges `steps` time steps in which `clients` clients all pull `arm`.
  void add_steps(std::size_t arm, std::uint64_t clients, std::uint64_t steps);

  /// Σ_t M(t)·Δ_{π(t)}.
  double pull_regret() const noexcept { return pull_; }
  /// C × communications().
  double communication_cost() const noexcept { return comm_cost_; }
  /// Client–server exchanges so far: Σ M(p) over the communicating phases.
  std::uint64_t communications() const noexcept { return comms_; }
  /// R(T): pull regret plus communication cost.
  double total() const noexcept { return pull_ + comm_cost_; }
  /// Time steps charged so far.
  std::uint64_t time() const noexcept { return t_; }
  /// R(t) at the sample times charged so far. A phase's communication is charged at its last step.
  const regret_curve& curve() const noexcept { return curve_; }

private:
  /// Pull regret of the first `steps` steps of `plan` (round-robin over plan.active).
  double phase_pull_regret(const phase_plan& plan, std::uint64_t steps) const;
  /// Records the samples in (t_, t_ + steps]; `at(s)` is (pull regret, communications) after s of the steps.
  template <class At>
  void sample(std::uint64_t steps, At at);

  std::vector<double> gap_;
  double c_;
  double pull_ = 0, comm_cost_ = 0;
  std::uint64_t comms_ = 0, t_ = 0;
  std::vector<std::uint64_t> sample_at_;
  regret_curve curve_;
};

} // namespace troupe::bandit
