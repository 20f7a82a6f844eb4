#pragma once
/// Regret as the authors evaluate it (FED_BANDIT.md):
///   R(T) = Σ_{t≤T} M(t)·(μ* − μ_{π(t)}) + C·Σ_{communicating phases p} M(p).
/// The ledger knows the true means; the algorithms never see it.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bandit/server_state.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

class regret_ledger {
public:
  explicit regret_ledger(const config::bandit_params& p);

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

private:
  std::vector<double> gap_;
  double c_;
  double pull_ = 0, comm_cost_ = 0;
  std::uint64_t comms_ = 0;
};

} // namespace troupe::bandit
