#pragma once
/// One client of a federated bandit: its local arm means, its random stream and its sample sums.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/rng.hpp"

namespace troupe::bandit {

class client_state {
public:
  /// A client whose arm k pays N(local_means[k], sigma²), drawing from `r`.
  client_state(std::uint64_t id, std::vector<double> local_means, double sigma, rng r);

  std::uint64_t id() const noexcept { return id_; }
  const std::vector<double>& local_means() const noexcept { return mu_; }

  /// One observation of `arm`, added to the sample sums.
  double pull_once(std::size_t arm);
  /// `n` observations of `arm`: their sum is drawn at once as N(n·μ, n·σ²), the same law as n draws.
  void pull(std::size_t arm, std::uint64_t n);
  /// One phase: every arm of `active` (ascending) pulled `f` times.
  void play_phase(const std::vector<std::size_t>& active, std::uint64_t f);

  /// Pulls of `arm` so far.
  std::uint64_t pulls(std::size_t arm) const { return count_.at(arm); }
  /// Sample mean of `arm` (0 before its first pull).
  double sample_mean(std::size_t arm) const;
  /// The sample means of `active`, rounded to f32 as they travel on the wire (and in memory alike).
  std::vector<float> upload(const std::vector<std::size_t>& active) const;

private:
  std::uint64_t id_;
  std::vector<double> mu_;
  double sigma_;
  rng rng_;
  std::vector<double> sum_;
  std::vector<std::uint64_t> count_;
};

} // namespace troupe::bandit
