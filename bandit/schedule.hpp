#pragma once
/// The phase schedule of Fed2-UCB / Fed1-UCB: g(p) clients admitted and f(p) pulls per arm in phase p.

#include <cstdint>

#include "config/bandit_spec.hpp"

namespace troupe::bandit {

/// g(p) for phase p >= 1 given M(p−1) clients already admitted.
///
/// fed2_ucb: base^p, value or value·p, cut so that M(p) never exceeds max_clients;
/// fed1_ucb: M in phase 1, none afterwards. Saturates instead of overflowing.
std::uint64_t admissions(const config::bandit_params& p, std::uint64_t phase, std::uint64_t admitted);

/// f(p) >= 1: ⌈κ⌉ (constant) or ⌈κ·ln T⌉ (log); the same for every phase.
std::uint64_t pulls_per_arm(const config::bandit_params& p, std::uint64_t phase);

} // namespace troupe::bandit
