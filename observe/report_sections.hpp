#pragma once
/// The report's tables below the plots: Trainers, Events and Configuration (HTML fragments, each
/// opening with its <h2>). Kept short whatever the run: no raw arrays, capped row counts.

#include <string>
#include <vector>

#include "observe/records.hpp"
#include "observe/trainer_stats.hpp"

namespace troupe::observe {

/// The Events table shows at most this many lines (the first and the last half of them).
inline constexpr std::size_t max_event_rows = 60;
/// The configuration YAML is shown up to this size.
inline constexpr std::size_t max_config_bytes = 64 * 1024;

/// The lines of describe_event in time order (`by_time`; `t0` is the run's first record), at most
/// max_event_rows of them (the first and the last half when there are more), under a count per kind.
std::string events_table(const std::vector<const record*>& by_time, double t0);

/// Throughput, wait share, lag behind the fastest trainer and restarts of each trainer.
std::string trainers_table(const std::vector<trainer_stats>& trainers);

/// Per trainer: its share of the global batch (samples per clock: latest and mean), its speed and
/// the fraction of its wall time it waited for parameters and for batches; "-" for figures its
/// records lack (runs older than the fields).
std::string balance_table(const std::vector<trainer_stats>& trainers);

/// The latest `config` event's YAML (escaped, cut at max_config_bytes), or a note that none was recorded.
std::string config_section(const std::vector<const record*>& by_time);

} // namespace troupe::observe
