#pragma once
/// Chrome-trace / Perfetto timeline of a run: every actor's spans (compute, push, wait, apply,
/// evaluate, checkpoint, serve) from all nodes on one time axis, with flow arrows that follow a
/// gradient from the trainer that computed it to the aggregator that applied it.

#include <string>

#include <nlohmann/json.hpp>

#include "observe/records.hpp"

namespace troupe::observe {

/// The trace: {"traceEvents": [...], "displayTimeUnit": "ms"} with one process per node, one
/// thread per actor, an "X" event per span (microseconds from the run's first span) and flow
/// events ("s" at the push, "f" at the apply) linking spans that share a correlation id.
nlohmann::json build_timeline(const read_result& records);

/// Reads the run's metrics logs and writes the trace JSON (open it in ui.perfetto.dev or chrome://tracing).
void write_timeline(const std::string& run_or_metrics_dir, const std::string& out_json);

} // namespace troupe::observe
