#pragma once
/// The schema of the metrics records (docs/metrics.md): which fields each kind of record must
/// carry and their JSON types. One table, used by the reader and by the tests.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace troupe::observe {

/// One schema violation: the offending field (a JSON path such as "clock_lag[1]") and what was expected.
struct field_error {
  std::string field;
  std::string message;
};

/// Which documented kind a record is: "event <name>" for any record with an "event" field (e.g.
/// "event finish"), else by role: "aggregator progress", "aggregator evaluation" (has test_loss),
/// "trainer", "loader", "supervisor", "transport"; "unknown role" otherwise (only the common fields are checked).
std::string record_kind(const nlohmann::json& rec);

/// The event names with a schema entry (sorted): every event the runtime writes. Events not in
/// this list are still valid records (their common fields are checked), but the tests refuse them.
std::vector<std::string> known_events();

/// Checks the common fields (ts, node, actor, role, step) only; empty when they are all valid.
std::vector<field_error> validate_common(const nlohmann::json& rec);

/// Checks a record against the whole schema: the common fields and those of its kind.
/// Extra fields are allowed (new fields are added at the end, never reused).
std::vector<field_error> validate_record(const nlohmann::json& rec);

} // namespace troupe::observe
