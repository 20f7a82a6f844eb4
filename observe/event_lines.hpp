#pragma once
/// The records a person reads in a run's history — evaluations, checkpoints, failures, restarts,
/// membership changes, refused gradients, the end — each as one short line. Bulk records (`spans`,
/// which `troupe-node timeline` draws) and the `config` event (the report shows it whole) have none.

#include <optional>
#include <string>

#include "observe/records.hpp"

namespace troupe::observe {

/// One line of a run's history.
struct event_line {
  std::string kind; ///< the event name, or "evaluation" for an aggregator evaluation record
  std::string text; ///< e.g. "refused the gradient of trainer-1 for clock 7: 3 NaN in 2.weight (3 NaN); 1 in a row"
};

/// Longest text of a line; longer texts (a long failure reason) end in "...".
inline constexpr std::size_t max_event_line = 240;

/// The line for `r`, or nullopt when `r` is not an event a person reads (periodic records, `spans`,
/// `config`). Events without a dedicated line (new kinds) list their scalar fields.
std::optional<event_line> describe_event(const record& r);

} // namespace troupe::observe
