#pragma once
/// A client host (trainer role): simulates the clients m with m mod H = rank over the van.
///
///   hello ──(welcome)──> waiting ──params──> play the phase for every held client, upload ──┐
///     │ (repeated every heartbeat_s)  ^                                                      │
///     └ reject / timeout: error       └──────────────────────────────────────────────────────┘
///                                     waiting ──shutdown──> done
///
/// Client m's local model and observations come from its own stream (seed, m), so the run does
/// not depend on how clients are spread over hosts.

#include <cstddef>

#include "bandit/actor_link.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

/// Runs host `rank` until the server's shutdown; throws troupe::error on a timeout or a reject,
/// stop_signal on a stop request.
void run_host(const config::bandit_params& p, const actor_link& link, std::size_t rank);

} // namespace troupe::bandit
