#pragma once
/// Spans of what an actor did (compute, push, wait, apply, checkpoint, ...) on the wall clock,
/// reported in batches as `{"event": "spans", "spans": [[name, start, seconds, correlation], ...]}`
/// records and merged across nodes into a Chrome-trace / Perfetto timeline by `troupe-node timeline`.

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace troupe::runtime {

class span_log {
public:
  using wall = std::chrono::system_clock;

  /// Records [start, end) under `name`; `correlation` ties spans of one message together across
  /// actors (e.g. "trainer-1/42" for the gradient trainer 1 pushed at clock 42).
  void add(const char* name, wall::time_point start, wall::time_point end, std::string correlation = {}) {
    if (spans_.size() >= max_spans) // never reported (print_freq 0): memory stays bounded
      return;
    const double s = std::chrono::duration<double>(start.time_since_epoch()).count();
    const double d = std::chrono::duration<double>(end - start).count();
    spans_.push_back(nlohmann::json::array({name, s, d, std::move(correlation)}));
  }

  bool empty() const { return spans_.empty(); }

  /// The spans since the last take(), as the record's "spans" array.
  nlohmann::json take() {
    nlohmann::json out = std::move(spans_);
    spans_ = nlohmann::json::array();
    return out;
  }

private:
  static constexpr std::size_t max_spans = 100000;
  nlohmann::json spans_ = nlohmann::json::array();
};

/// Correlation id of trainer `rank`'s gradient for `clock`.
inline std::string gradient_id(std::size_t rank, std::uint64_t clock) {
  return "trainer-" + std::to_string(rank) + "/" + std::to_string(clock);
}

} // namespace troupe::runtime
