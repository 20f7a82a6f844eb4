#pragma once
/// Reading the metrics logs: every <dir>/*.jsonl (one file per node, docs/metrics.md), checked
/// against the schema, while a run may still be writing them.

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "observe/schema.hpp"

namespace troupe::observe {

/// One metrics record: the common fields, typed, plus the whole object.
struct record {
  std::string file;     ///< the .jsonl file it came from (file name only)
  std::size_t line = 0; ///< 1-based line number in that file
  double ts = 0;        ///< seconds since the Unix epoch
  std::string node, actor, role;
  std::uint64_t step = 0;
  nlohmann::json fields; ///< the whole record, common fields included

  /// The numeric field `key`, or NaN when it is missing, null or not a number.
  double number(const char* key) const;
  /// The string field `key`, or "" when it is missing or not a string.
  std::string text(const char* key) const;
};

/// A line that is not a valid record; `to_string()` reads "file:line: field: message".
struct record_error {
  std::string file;
  std::size_t line = 0;
  std::string field;
  std::string message;
  std::string to_string() const;
};

struct read_result {
  std::vector<record> records;      ///< valid common fields, in file-name then line order
  std::vector<record_error> errors; ///< schema violations and lines that are not JSON
  std::size_t files = 0;            ///< how many .jsonl files were read
  std::size_t partial_lines = 0;    ///< unterminated last lines skipped (a writer mid-record)
};

/// Parses one log. A record whose common fields are invalid is reported and dropped; one whose
/// role-specific fields are invalid is reported and kept. An unparsable last line without a
/// newline is a record still being written: skipped and counted, not an error.
void parse_records(std::istream& in, const std::string& file, read_result& out);

/// Reads every <dir>/*.jsonl in file-name order; throws troupe::error when dir is not a directory.
read_result read_records(const std::string& dir);

/// The metrics directory of a run: <dir>/metrics when that exists (a run directory such as
/// runs/<cluster id>), else dir itself.
std::string metrics_dir_of(const std::string& run_or_metrics_dir);

} // namespace troupe::observe
