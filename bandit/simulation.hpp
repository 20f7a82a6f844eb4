#pragma once
/// The whole run in one thread, without a transport: the reference the distributed runner must match.

#include <cstdint>
#include <vector>

#include "bandit/run_result.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

/// Runs params.algorithm (fed2_ucb, fed1_ucb or ucb1) to the horizon T; with `sample_at` (ascending time steps in
/// [1, T]) the result's curve holds R(t) at those steps.
run_result simulate(const config::bandit_params& p, const std::vector<std::uint64_t>& sample_at = {});

} // namespace troupe::bandit
