#pragma once
/// fed_bandit_sweep's work without its command line or plot: the curves of a sweep, R(t) of each
/// averaged over seeds with its standard error, and the CSV they are written to.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "bandit/running_stats.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

/// One curve: an algorithm with its parameters, run over several seeds.
struct sweep_curve {
  std::string id;               ///< one word for the CSV: fed2_ucb, fed2_ucb_c0, fed1_ucb, fed1_ucb_c0, ucb1
  std::string name;             ///< for the legend and the printout
  config::bandit_params params; ///< params.seed is the first seed
};

/// Fed2-UCB and Fed1-UCB, each again with C = 0 (the same runs without communication cost; only when
/// C > 0), and UCB1 when s.run_ucb1.
std::vector<sweep_curve> sweep_curves(const config::bandit_sweep_spec& s);

/// One curve over its seeds.
struct curve_stats {
  sweep_curve curve;
  std::uint64_t seeds = 0;
  std::vector<std::uint64_t> t;                  ///< the sample times, T last
  std::vector<running_stats> regret;             ///< R(t_i) over the seeds
  std::vector<running_stats> communication_cost; ///< C·(exchanges completed by t_i) over the seeds
  running_stats clients;                         ///< M at T
  running_stats decided_at;                      ///< over the runs left with one arm before T
  std::uint64_t found_best = 0;                  ///< runs that settled on the global best arm

  /// R(T) over the seeds.
  const running_stats& final_regret() const { return regret.back(); }
};

/// Runs `curve` with seeds params.seed, params.seed + 1, …, params.seed + seeds − 1 and gathers R(t)
/// at `times` (ascending, in [1, T], T last).
curve_stats run_curve(const sweep_curve& curve, std::uint64_t seeds, const std::vector<std::uint64_t>& times);

/// The CSV columns, in order.
const std::vector<std::string>& csv_columns();

/// A header line (csv_columns()) and one row per curve and sample time.
void write_csv(std::ostream& out, const std::vector<curve_stats>& curves);

} // namespace troupe::bandit
