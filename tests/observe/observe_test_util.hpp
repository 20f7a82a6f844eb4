#pragma once
// Shared by the observe tests: the checked-in recorded logs and reading records from strings.

#include <sstream>
#include <string>

#include "observe/records.hpp"
#include "tests/support/test_env.hpp"

namespace troupe::test {

/// tests/observe/data/<name> in the source tree.
inline std::string observe_data(const std::string& name) {
  return source_dir() + "/tests/observe/data/" + name;
}

/// The time the golden views of live-run are rendered at (9 s after its aggregator's last record,
/// 10.7 s after trainer-1's: stale).
inline constexpr double live_run_now = 1795310301.0;

/// Parses text as the log file `file`.
inline observe::read_result parse_text(const std::string& text, const std::string& file = "n.jsonl") {
  std::istringstream in(text);
  observe::read_result out;
  observe::parse_records(in, file, out);
  return out;
}

} // namespace troupe::test
