#include "bandit/regret.hpp"

#include <algorithm>
#include <utility>

#include "bandit/environment.hpp"
#include "common/error.hpp"

namespace troupe::bandit {

regret_ledger::regret_ledger(const config::bandit_params& p, std::vector<std::uint64_t> sample_at)
    : gap_(gaps(p)), c_(p.comm_cost), sample_at_(std::move(sample_at)) {
  TROUPE_ENFORCE(std::is_sorted(sample_at_.begin(), sample_at_.end()) &&
                     std::adjacent_find(sample_at_.begin(), sample_at_.end()) == sample_at_.end(),
                 "regret sample times must be strictly ascending");
}

double regret_ledger::phase_pull_regret(const phase_plan& plan, std::uint64_t steps) const {
  const std::uint64_t n = plan.active.size();
  const std::uint64_t cycles = steps / n, rest = steps % n;
  double per_cycle = 0, partial = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    per_cycle += gap_.at(plan.active[i]);
    if (i < rest)
      partial += gap_[plan.active[i]];
  }
  return static_cast<double>(plan.clients) * (static_cast<double>(cycles) * per_cycle + partial);
}

template <class At>
void regret_ledger::sample(std::uint64_t steps, At at) {
  for (std::size_t i = curve_.t.size(); i < sample_at_.size() && sample_at_[i] <= t_ + steps; ++i) {
    if (sample_at_[i] <= t_) { // a time already behind the ledger (0, or a gap in the charged steps)
      curve_.t.push_back(sample_at_[i]);
      curve_.regret.push_back(total());
      curve_.communication_cost.push_back(comm_cost_);
      continue;
    }
    const auto [pull, comms] = at(sample_at_[i] - t_);
    const double comm_cost = c_ * static_cast<double>(comms); // the same product as comm_cost_ below
    curve_.t.push_back(sample_at_[i]);
    curve_.regret.push_back(pull + comm_cost);
    curve_.communication_cost.push_back(comm_cost);
  }
}

void regret_ledger::add_phase(const phase_plan& plan) {
  TROUPE_ENFORCE(!plan.active.empty(), "a phase needs active arms");
  // Sampled with the same expressions as the totals, so R at a phase's end equals the ledger's total.
  sample(plan.steps, [&](std::uint64_t s) {
    const bool last = s == plan.steps;
    return std::pair<double, std::uint64_t>(pull_ + phase_pull_regret(plan, s),
                                            comms_ + (last && plan.uploads ? plan.clients : 0));
  });
  pull_ += phase_pull_regret(plan, plan.steps);
  t_ += plan.steps;
  if (plan.uploads) {
    comms_ += plan.clients;
    comm_cost_ = c_ * static_cast<double>(comms_);
  }
}

void regret_ledger::add_steps(std::size_t arm, std::uint64_t clients, std::uint64_t steps) {
  const double gap = gap_.at(arm);
  sample(steps, [&](std::uint64_t s) {
    return std::pair<double, std::uint64_t>(pull_ + static_cast<double>(clients) * static_cast<double>(s) * gap,
                                            comms_);
  });
  pull_ += static_cast<double>(clients) * static_cast<double>(steps) * gap_[arm];
  t_ += steps;
}

} // namespace troupe::bandit
