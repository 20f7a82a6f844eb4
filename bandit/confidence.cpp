#include "bandit/confidence.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"

namespace troupe::bandit {

double eta(const std::vector<std::uint64_t>& g, const std::vector<std::uint64_t>& F) {
  TROUPE_ENFORCE(!g.empty() && F.size() == g.size() + 1, "eta needs g(1..p) and F(0..p), got {} and {} values",
                 g.size(), F.size());
  const std::size_t p = g.size();
  double sum = 0;
  std::uint64_t clients = 0;
  for (std::size_t q = 1; q <= p; ++q) {
    clients += g[q - 1];
    if (g[q - 1] == 0)
      continue;
    // A client admitted in phase q holds F(p) − F(q−1) samples of every active arm.
    TROUPE_ENFORCE(F[p] > F[q - 1], "clients of phase {} hold no samples (F(p) = {}, F(q-1) = {})", q, F[p], F[q - 1]);
    sum += static_cast<double>(g[q - 1]) / static_cast<double>(F[p] - F[q - 1]);
  }
  TROUPE_ENFORCE(clients > 0, "eta needs at least one client");
  const double m = static_cast<double>(clients);
  return sum / (m * m);
}

double fed2_bound(double eta_p, std::uint64_t clients, double sigma, double sigma_c, double ln_T, double c1,
                  double c2) {
  TROUPE_ENFORCE(clients > 0, "B_p,2 needs at least one client");
  return std::sqrt(c1 * sigma * sigma * eta_p * ln_T) +
         std::sqrt(c2 * sigma_c * sigma_c * ln_T / static_cast<double>(clients));
}

double fed1_bound(std::uint64_t clients, std::uint64_t F_p, double sigma, double ln_T, double c1) {
  TROUPE_ENFORCE(clients > 0 && F_p > 0, "B_p,1 needs M >= 1 and F(p) >= 1, got {} and {}", clients, F_p);
  return std::sqrt(c1 * sigma * sigma * ln_T / (static_cast<double>(clients) * static_cast<double>(F_p)));
}

std::vector<std::size_t> eliminated(const std::vector<std::size_t>& active, const std::vector<double>& means,
                                    double bound) {
  TROUPE_ENFORCE(active.size() == means.size() && !active.empty(), "{} active arms but {} means", active.size(),
                 means.size());
  const double best = *std::max_element(means.begin(), means.end());
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < active.size(); ++i)
    if (means[i] + bound < best - bound)
      out.push_back(active[i]);
  return out;
}

} // namespace troupe::bandit
