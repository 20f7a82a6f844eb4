#pragma once
/// One node's metrics file, <dir>/<node>.jsonl, in Troupe's record format (docs/runtime.md):
/// one JSON object per line, flushed per record, every record with ts, node, actor, role, step.

#include <cstdint>
#include <fstream>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace troupe::bandit {

class metrics_log {
public:
  /// Creates `dir` if needed and opens <dir>/<node>.jsonl for appending; throws troupe::error if it cannot.
  metrics_log(const std::string& dir, const std::string& node);
  /// Appends one record (any thread).
  void write(const nlohmann::json& record);
  const std::string& path() const noexcept { return path_; }

private:
  std::mutex mu_;
  std::string path_;
  std::ofstream file_;
};

/// A record with the common fields: ts (seconds since the epoch), node, actor, role, step.
nlohmann::json make_record(const std::string& node, const std::string& actor, const std::string& role,
                           std::uint64_t step);

} // namespace troupe::bandit
