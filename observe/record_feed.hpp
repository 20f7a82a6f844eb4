#pragma once
/// Turns metrics records (docs/metrics.md) into Prometheus samples, so a node exports what its
/// actors already report: the metrics actor feeds every record it writes.

#include <nlohmann/json.hpp>

#include "observe/prometheus.hpp"

namespace troupe::observe {

/// Declares every troupe_* family feed_record() writes (idempotent); docs/metrics.md lists them.
void declare_record_metrics(registry& reg);

/// Updates reg from one record: gauges take the latest figures, counters accumulate per-interval
/// sums (compute_s, wait_s) or mirror cumulative ones (batches_sent, staleness_hist). A record
/// with invalid common fields is ignored; unknown kinds only count in troupe_records_total.
void feed_record(registry& reg, const nlohmann::json& rec);

} // namespace troupe::observe
