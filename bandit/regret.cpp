#include "bandit/regret.hpp"

#include "bandit/environment.hpp"
#include "common/error.hpp"

namespace troupe::bandit {

regret_ledger::regret_ledger(const config::bandit_params& p) : gap_(gaps(p)), c_(p.comm_cost) {}

void regret_ledger::add_phase(const phase_plan& plan) {
  const std::uint64_t n = plan.active.size();
  TROUPE_ENFORCE(n > 0, "a phase needs active arms");
  const std::uint64_t cycles = plan.steps / n, rest = plan.steps % n;
  double per_cycle = 0, partial = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    per_cycle += gap_.at(plan.active[i]);
    if (i < rest)
      partial += gap_[plan.active[i]];
  }
  pull_ += static_cast<double>(plan.clients) * (static_cast<double>(cycles) * per_cycle + partial);
  if (plan.uploads) {
    comms_ += plan.clients;
    comm_cost_ = c_ * static_cast<double>(comms_);
  }
}

void regret_ledger::add_steps(std::size_t arm, std::uint64_t clients, std::uint64_t steps) {
  pull_ += static_cast<double>(clients) * static_cast<double>(steps) * gap_.at(arm);
}

} // namespace troupe::bandit
