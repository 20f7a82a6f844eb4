#pragma once
/// A client host (trainer role): simulates the clients m with m mod H = rank; a blocking actor
/// on the node's runtime (its messages come through the router, its records go to the metrics actor).
///
///   hello ──(welcome)──> waiting ──params──> play the phase for every held client, upload ──┐
///     │ (repeated every heartbeat_s)  ^                                                      │
///     └ reject / timeout: error       └──────────────────────────────────────────────────────┘
///                                     waiting ──shutdown──> done
///
/// Client m's local model and observations come from its own stream (seed, m), so the run does
/// not depend on how clients are spread over hosts.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "bandit/actor_link.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

struct host_options {
  std::size_t rank = 0;
  std::optional<std::uint64_t> fail_at_phase; ///< test hook: throw std::runtime_error when playing this phase
};

/// Runs host `o.rank` until the server's shutdown; throws troupe::error on a timeout or a reject,
/// stop_signal on a stop request. Whatever it throws (but a stop), the server is told first.
void run_host(const config::bandit_params& p, const actor_link& link, const host_options& o);

} // namespace troupe::bandit
