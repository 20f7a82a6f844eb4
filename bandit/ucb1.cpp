#include "bandit/ucb1.hpp"

#include <algorithm>
#include <cmath>

#include "bandit/environment.hpp"
#include "common/error.hpp"

namespace troupe::bandit {

ucb1_state::ucb1_state(std::size_t arms, double sigma) : sigma_(sigma), sum_(arms, 0.0), count_(arms, 0) {
  TROUPE_ENFORCE(arms >= 1, "UCB1 needs at least one arm");
}

std::size_t ucb1_state::select(std::uint64_t t) const {
  for (std::size_t k = 0; k < count_.size(); ++k)
    if (count_[k] == 0)
      return k;
  const double scale = 2.0 * sigma_ * std::sqrt(2.0 * std::log(static_cast<double>(t)));
  std::size_t best = 0;
  double best_index = -INFINITY;
  for (std::size_t k = 0; k < count_.size(); ++k) {
    const double n = static_cast<double>(count_[k]);
    const double index = sum_[k] / n + scale / std::sqrt(n);
    if (index > best_index) {
      best_index = index;
      best = k;
    }
  }
  return best;
}

void ucb1_state::update(std::size_t arm, double reward) {
  sum_.at(arm) += reward;
  ++count_[arm];
}

std::size_t ucb1_state::most_pulled() const {
  return static_cast<std::size_t>(std::max_element(count_.begin(), count_.end()) - count_.begin());
}

run_result run_ucb1(const config::bandit_params& p, const std::vector<std::uint64_t>& sample_at) {
  TROUPE_ENFORCE(p.means.size() >= 2, "a bandit needs at least two arms, got {}", p.means.size());
  config::bandit_params single = p;
  single.algorithm = config::bandit_algorithm::ucb1;
  client_state client = client_factory(single).make(0);
  const std::vector<double> gap = gaps(p);
  ucb1_state ucb(p.means.size(), p.sigma);
  run_result r;
  r.algorithm = config::bandit_algorithm::ucb1;
  r.horizon = p.horizon;
  r.clients = 1;
  // Regret is summed per arm (pulls × Δ): the same value whatever the play order, and R(t) at a
  // sample time is the same sum over the pulls so far, so the curve ends exactly at R(T).
  const auto regret_so_far = [&] {
    double sum = 0;
    for (std::size_t k = 0; k < gap.size(); ++k)
      sum += static_cast<double>(ucb.pulls(k)) * gap[k];
    return sum;
  };
  std::size_t next = 0;
  for (std::uint64_t t = 1; t <= p.horizon; ++t) {
    const std::size_t arm = ucb.select(t);
    ucb.update(arm, client.pull_once(arm));
    for (; next < sample_at.size() && sample_at[next] == t; ++next) {
      r.curve.t.push_back(t);
      r.curve.regret.push_back(regret_so_far());
      r.curve.communication_cost.push_back(0);
    }
  }
  TROUPE_ENFORCE(next == sample_at.size(), "UCB1 sample times must be strictly ascending steps in [1, T = {}]",
                 p.horizon);
  r.pull_regret = regret_so_far();
  for (std::size_t k = 0; k < gap.size(); ++k)
    r.active.push_back(k);
  r.chosen = ucb.most_pulled();
  return r;
}

} // namespace troupe::bandit
