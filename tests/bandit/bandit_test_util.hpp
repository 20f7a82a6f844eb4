#pragma once
// Shared by the bandit tests: small parameter sets.

#include <cstdint>
#include <vector>

#include "config/bandit_spec.hpp"

namespace troupe::bandit::test {

/// The authors' synthetic arms (K = 10, Δ_min = 0.02).
inline const std::vector<double> paper_means = {0.70, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.765, 0.77, 0.79};

/// Fed2-UCB with theory constants on `means`.
inline config::bandit_params fed2(std::vector<double> means, std::uint64_t T, std::uint64_t kappa,
                                  std::uint64_t seed = 1) {
  config::bandit_params p;
  p.algorithm = config::bandit_algorithm::fed2_ucb;
  p.means = std::move(means);
  p.sigma = 0.5;
  p.sigma_c = 0.02;
  p.horizon = T;
  p.kappa = static_cast<double>(kappa);
  p.seed = seed;
  return p;
}

/// Fed1-UCB on the skewed exact model with M clients and f = ⌈κ ln T⌉.
inline config::bandit_params fed1(std::vector<double> means, std::uint64_t T, std::uint64_t M, double kappa,
                                  std::uint64_t seed = 1) {
  config::bandit_params p = fed2(std::move(means), T, 1, seed);
  p.algorithm = config::bandit_algorithm::fed1_ucb;
  p.clients = M;
  p.kappa = kappa;
  p.f = config::pulls_kind::log;
  return p;
}

} // namespace troupe::bandit::test
