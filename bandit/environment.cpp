#include "bandit/environment.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace troupe::bandit {

std::vector<double> gaps(const config::bandit_params& p) {
  const double best = p.means[config::best_arm(p)];
  std::vector<double> out;
  out.reserve(p.means.size());
  for (double mu : p.means)
    out.push_back(best - mu);
  return out;
}

std::uint64_t client_seed(std::uint64_t seed, std::uint64_t id) {
  // splitmix64 finaliser over (seed, id): distinct, well-mixed streams for neighbouring ids.
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ULL + (id + 1) * 0xd1b54a32d192ed03ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<double> approximate_local_means(const config::bandit_params& p, rng& r) {
  std::vector<double> out;
  out.reserve(p.means.size());
  for (double mu : p.means)
    out.push_back(mu + p.sigma_c * r.normal());
  return out;
}

std::vector<std::vector<double>> exact_local_means(const config::bandit_params& p) {
  const std::size_t m_count = p.clients, k_count = p.means.size();
  TROUPE_ENFORCE(m_count >= 1, "the exact model needs at least one client, got M = {}", m_count);
  std::vector<std::vector<double>> out(m_count, std::vector<double>(k_count));
  if (p.exact == config::exact_kind::skewed) {
    const double low = p.exact_low;
    const double high = static_cast<double>(m_count) - static_cast<double>(m_count - 1) * low;
    for (std::size_t k = 0; k < k_count; ++k) {
      const std::size_t owner = std::min(k, k_count - 1 - k) % m_count;
      for (std::size_t m = 0; m < m_count; ++m)
        out[m][k] = p.means[k] * (m == owner ? high : low);
    }
    return out;
  }
  rng r(p.seed ^ 0x6578616374ULL); // the "exact" stream
  for (std::size_t k = 0; k < k_count; ++k) {
    double sum = 0;
    for (std::size_t m = 0; m < m_count; ++m) {
      out[m][k] = p.means[k] + p.sigma_c * r.normal();
      sum += out[m][k];
    }
    const double shift = p.means[k] - sum / static_cast<double>(m_count);
    for (std::size_t m = 0; m < m_count; ++m)
      out[m][k] += shift;
  }
  return out;
}

client_factory::client_factory(const config::bandit_params& p) : p_(p) {
  if (p.algorithm == config::bandit_algorithm::fed1_ucb)
    exact_ = exact_local_means(p);
}

client_state client_factory::make(std::uint64_t id) const {
  rng r(client_seed(p_.seed, id));
  if (p_.algorithm == config::bandit_algorithm::fed1_ucb) {
    TROUPE_ENFORCE(id < exact_.size(), "client {} does not exist: the exact model has M = {} clients", id,
                   exact_.size());
    return client_state(id, exact_[id], p_.sigma, r);
  }
  if (p_.algorithm == config::bandit_algorithm::ucb1)
    return client_state(id, p_.means, p_.sigma, r); // the single client plays the global bandit
  std::vector<double> local = approximate_local_means(p_, r);
  return client_state(id, std::move(local), p_.sigma, r);
}

} // namespace troupe::bandit
