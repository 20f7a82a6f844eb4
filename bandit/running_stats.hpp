#pragma once
/// Mean, sample variance and standard error of a stream of values (Welford's update).

#include <cstdint>

namespace troupe::bandit {

class running_stats {
public:
  /// Adds one value.
  void add(double x);

  std::uint64_t count() const noexcept { return n_; }
  /// The mean (0 before the first value).
  double mean() const noexcept { return mean_; }
  /// The unbiased sample variance s² = Σ(x − x̄)² / (n − 1) (0 with fewer than two values).
  double variance() const noexcept;
  /// The standard error of the mean, s / sqrt(n) (0 with fewer than two values).
  double standard_error() const noexcept;

private:
  std::uint64_t n_ = 0;
  double mean_ = 0;
  double m2_ = 0; ///< Σ(x − x̄)² so far
};

} // namespace troupe::bandit
