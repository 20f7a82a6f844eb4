#pragma once
/// The bandit environments: the global model (μ_k, gaps) and the clients' local models.
///
/// Approximate model (Fed2-UCB): client m draws μ_{k,m} ~ N(μ_k, σ_c²) when admitted.
/// Exact model (Fed1-UCB): M fixed clients whose local means average exactly to μ_k.
/// Every client's randomness comes from its own stream, a function of (seed, client id) only, so a
/// run does not depend on which host simulates which client.

#include <cstdint>
#include <vector>

#include "bandit/client_state.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

/// Δ_k = μ* − μ_k for every arm.
std::vector<double> gaps(const config::bandit_params& p);

/// The seed of client `id`'s own random stream.
std::uint64_t client_seed(std::uint64_t seed, std::uint64_t id);

/// μ_{k,m} = μ_k + σ_c·Z_k, drawn from `r` in arm order.
std::vector<double> approximate_local_means(const config::bandit_params& p, rng& r);

/// The M×K local means of the exact model (row m = client m); each column averages to μ_k.
///
/// skewed: μ_{k,m} = μ_k·A[m,k] with A = high for m = owner(k) = min(k, K−1−k) mod M and low
/// otherwise, high = M − (M−1)·low (K = 10, M = 5, low = 0.2 is the authors' A with 4.2 and 0.2).
/// centered: N(μ_k, σ_c²) draws from the "exact" stream, shifted by their column mean's error.
std::vector<std::vector<double>> exact_local_means(const config::bandit_params& p);

/// Creates the clients of an algorithm's model; caches the exact model's table.
class client_factory {
public:
  explicit client_factory(const config::bandit_params& p);
  /// Client `id` with its local means and its own random stream (the exact model needs id < M).
  client_state make(std::uint64_t id) const;

private:
  const config::bandit_params& p_;
  std::vector<std::vector<double>> exact_;
};

} // namespace troupe::bandit
