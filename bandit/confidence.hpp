#pragma once
/// The confidence bounds of Fed2-UCB (B_{p,2}) and Fed1-UCB (B_{p,1}) and the elimination rule.
///
///   η_p     = (1/M(p)²) Σ_{q≤p} g(q) / (F(p) − F(q−1))
///   B_{p,2} = sqrt(c1·σ²·η_p·ln T) + sqrt(c2·σ_c²·ln T / M(p))
///   B_{p,1} = sqrt(c1·σ²·ln T / (M·F(p)))        (= the first term with g(1) = M, g(q>1) = 0)
///   E_p     = { k ∈ K_p : μ̄_k(p) + B < max_{l∈K_p} μ̄_l(p) − B }

#include <cstddef>
#include <cstdint>
#include <vector>

namespace troupe::bandit {

/// η_p from g = [g(1), …, g(p)] and F = [F(0) = 0, F(1), …, F(p)]; throws if the sizes disagree or M(p) = 0.
double eta(const std::vector<std::uint64_t>& g, const std::vector<std::uint64_t>& F);

/// B_{p,2} for η_p, M(p) clients and ln T.
double fed2_bound(double eta_p, std::uint64_t clients, double sigma, double sigma_c, double ln_T, double c1, double c2);

/// B_{p,1} for M clients holding F(p) samples per active arm each.
double fed1_bound(std::uint64_t clients, std::uint64_t F_p, double sigma, double ln_T, double c1);

/// The arms of `active` to drop: those whose upper bound lies below the best lower bound.
/// `means[i]` is μ̄ of arm `active[i]`; the result is ascending like `active`.
std::vector<std::size_t> eliminated(const std::vector<std::size_t>& active, const std::vector<double>& means,
                                    double bound);

} // namespace troupe::bandit
