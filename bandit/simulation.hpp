#pragma once
/// The whole run in one thread, without a transport: the reference the distributed runner must match.

#include "bandit/run_result.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

/// Runs params.algorithm (fed2_ucb, fed1_ucb or ucb1) to the horizon T.
run_result simulate(const config::bandit_params& p);

} // namespace troupe::bandit
