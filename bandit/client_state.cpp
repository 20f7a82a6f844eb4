#include "bandit/client_state.hpp"

#include <cmath>

#include "common/error.hpp"

namespace troupe::bandit {

client_state::client_state(std::uint64_t id, std::vector<double> local_means, double sigma, rng r)
    : id_(id), mu_(std::move(local_means)), sigma_(sigma), rng_(r), sum_(mu_.size(), 0.0), count_(mu_.size(), 0) {
  TROUPE_ENFORCE(sigma >= 0, "sigma must be >= 0, got {}", sigma);
}

double client_state::pull_once(std::size_t arm) {
  TROUPE_ENFORCE(arm < mu_.size(), "arm {} out of range (K = {})", arm, mu_.size());
  const double x = mu_[arm] + sigma_ * rng_.normal();
  sum_[arm] += x;
  ++count_[arm];
  return x;
}

void client_state::pull(std::size_t arm, std::uint64_t n) {
  TROUPE_ENFORCE(arm < mu_.size(), "arm {} out of range (K = {})", arm, mu_.size());
  if (n == 0)
    return;
  const double dn = static_cast<double>(n);
  sum_[arm] += dn * mu_[arm] + std::sqrt(dn) * sigma_ * rng_.normal();
  count_[arm] += n;
}

void client_state::play_phase(const std::vector<std::size_t>& active, std::uint64_t f) {
  for (std::size_t arm : active)
    pull(arm, f);
}

double client_state::sample_mean(std::size_t arm) const {
  TROUPE_ENFORCE(arm < mu_.size(), "arm {} out of range (K = {})", arm, mu_.size());
  return count_[arm] == 0 ? 0.0 : sum_[arm] / static_cast<double>(count_[arm]);
}

std::vector<float> client_state::upload(const std::vector<std::size_t>& active) const {
  std::vector<float> out;
  out.reserve(active.size());
  for (std::size_t arm : active)
    out.push_back(static_cast<float>(sample_mean(arm)));
  return out;
}

} // namespace troupe::bandit
