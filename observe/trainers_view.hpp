#pragma once
/// The per-trainer table under `troupe-node watch`: from each trainer's latest periodic record, its
/// clock, its share of the global batch (samples per clock it was given), its speed (images per
/// second of compute) and how much of the period's wall time it waited for parameters and for
/// batches; with the clock lag the aggregator reports for it.

#include <string>
#include <vector>

#include "observe/records.hpp"
#include "observe/run_summary.hpp"

namespace troupe::observe {

/// The table, one row per trainer (trainer-0, trainer-1, ..., trainer-10), under a line that says
/// what the columns mean; "" when no trainer wrote a periodic record. A figure the record lacks (a
/// run older than the field) shows as "-". `summary` is summarize(records) (for the clock lag).
std::string render_trainers(const std::vector<record>& records, const run_summary& summary);

} // namespace troupe::observe
