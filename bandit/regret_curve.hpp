#pragma once
/// Regret over time: R(t) of one run at a bounded set of time steps, not at every step.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace troupe::bandit {

/// R(t) of one run at the time steps `t` (what the regret ledger or UCB1 recorded when asked to).
struct regret_curve {
  std::vector<std::uint64_t> t;           ///< ascending, in [1, T]
  std::vector<double> regret;             ///< R(t): pull regret + communication cost charged by t
  std::vector<double> communication_cost; ///< C·(client–server exchanges completed by t)

  friend bool operator==(const regret_curve& a, const regret_curve& b) {
    return a.t == b.t && a.regret == b.regret && a.communication_cost == b.communication_cost;
  }
};

/// At most `n` >= 2 distinct time steps in [1, T], ascending, T last: about half spaced evenly in log t
/// (the early phases; every power of 10 up to T among them once n/2 > log10 T), the rest evenly in t
/// (a linear time axis), so a plot of either kind is smooth.
std::vector<std::uint64_t> sample_times(std::uint64_t T, std::size_t n);

} // namespace troupe::bandit
