#include "bandit/running_stats.hpp"

#include <cmath>

namespace troupe::bandit {

void running_stats::add(double x) {
  // Welford: x̄_n = x̄_{n−1} + (x − x̄_{n−1})/n, M2_n = M2_{n−1} + (x − x̄_{n−1})(x − x̄_n); no cancellation
  // between two large sums, which matters for regrets of 10^4 with a spread of 10^2.
  ++n_;
  const double delta = x - mean_;
  mean_ += delta / static_cast<double>(n_);
  m2_ += delta * (x - mean_);
}

double running_stats::variance() const noexcept {
  return n_ < 2 ? 0.0 : m2_ / static_cast<double>(n_ - 1);
}

double running_stats::standard_error() const noexcept {
  return n_ < 2 ? 0.0 : std::sqrt(variance() / static_cast<double>(n_));
}

} // namespace troupe::bandit
