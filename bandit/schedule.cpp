#include "bandit/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.hpp"

namespace troupe::bandit {

std::uint64_t admissions(const config::bandit_params& p, std::uint64_t phase, std::uint64_t admitted) {
  TROUPE_ENFORCE(phase >= 1, "phases count from 1, got {}", phase);
  using config::admission_kind;
  if (p.algorithm == config::bandit_algorithm::fed1_ucb)
    return phase == 1 ? p.clients : 0;
  TROUPE_ENFORCE(p.algorithm == config::bandit_algorithm::fed2_ucb, "admissions are a federated schedule");
  if (admitted >= p.max_clients)
    return 0;
  const std::uint64_t room = p.max_clients - admitted;
  std::uint64_t g = p.g_value;
  if (p.g == admission_kind::exponential) {
    g = 1;
    for (std::uint64_t q = 0; q < phase && g <= room; ++q) // base^phase, stopping once it exceeds the room
      g *= p.g_value;
  } else if (p.g == admission_kind::linear) {
    g = phase > room / p.g_value ? room + 1 : p.g_value * phase;
  }
  return std::min(g, room);
}

std::uint64_t pulls_per_arm(const config::bandit_params& p, std::uint64_t phase) {
  TROUPE_ENFORCE(phase >= 1, "phases count from 1, got {}", phase);
  const double f = p.f == config::pulls_kind::constant ? std::ceil(p.kappa)
                                                       : std::ceil(p.kappa * std::log(static_cast<double>(p.horizon)));
  TROUPE_ENFORCE(f >= 1 && f < 1e15, "f(p) = {} pulls per arm is out of range (kappa = {})", f, p.kappa);
  return static_cast<std::uint64_t>(f);
}

} // namespace troupe::bandit
