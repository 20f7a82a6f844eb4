#pragma once
/// Per-trainer figures over a whole run, from the trainers' own records: how fast each computed,
/// how much of its time it waited, how far it trailed the fastest trainer, how often it restarted.

#include <cstdint>
#include <string>
#include <vector>

#include "observe/records.hpp"
#include "observe/run_summary.hpp"

namespace troupe::observe {

struct trainer_stats {
  std::string node, actor;
  std::size_t records = 0; ///< periodic records (events not counted)
  std::uint64_t clock = 0; ///< the clock of its last record
  /// Images per second of compute over the run: Σ images / Σ compute_s, a record's images being
  /// its images_per_s · compute_s. NaN without compute time.
  double images_per_s = 0;
  /// Σ wait_s / Σ (wait_s + compute_s): the share of its working time spent waiting for batches or
  /// parameters. The trainer the others wait for has the lowest. NaN without any time.
  double wait_share = 0;
  /// Clocks behind the fastest trainer, sampled each time any trainer reports (its latest clock
  /// against the highest latest clock): the mean and the maximum. 0 for a lone trainer.
  double mean_lag = 0, max_lag = 0;
  /// Samples per clock it was given (its share of the global batch): its latest record's, and the
  /// mean of its records' (each covers metrics.print_freq clocks). NaN when its records lack
  /// `share` (runs older than the field).
  double share = 0, mean_share = 0;
  /// Σ wait_params_s / Σ wall_s and Σ wait_batch_s / Σ wall_s over its records that carry them: the
  /// fraction of its wall time spent waiting for parameters, and for batches. NaN without.
  double wait_params_ratio = 0, wait_batch_ratio = 0;
  std::size_t restarts = 0; ///< from the run summary (supervisor restarts, resumes, step going back)
  /// Its late gradients dropped (job.backup_trainers), from the finish event or the latest
  /// aggregator progress record; NaN when the records do not say (no backup trainers).
  double late_dropped = 0;
};

/// One entry per trainer that wrote a periodic record, ordered trainer-0, trainer-1, ..., trainer-10.
/// `records` in read order; `summary` is summarize(records) (for the restarts).
std::vector<trainer_stats> summarize_trainers(const std::vector<record>& records, const run_summary& summary);

} // namespace troupe::observe
