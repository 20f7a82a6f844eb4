#pragma once
/// The single-client baseline: UCB1 (Auer, Cesa-Bianchi, Fischer 2002) on the global bandit.
///
/// Each arm is played once; then at step t the arm maximising μ̂_k + 2σ·sqrt(2·ln t / n_k), which
/// is exactly Auer's index sqrt(2·ln t / n_k) for rewards in [0, 1] (σ = 1/2). Regret Σ_t Δ_{π(t)}
/// (one client, no communication).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bandit/run_result.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

class ucb1_state {
public:
  ucb1_state(std::size_t arms, double sigma);

  /// The arm to play at step t (t counts from 1).
  std::size_t select(std::uint64_t t) const;
  /// Records a reward of `arm`.
  void update(std::size_t arm, double reward);

  std::uint64_t pulls(std::size_t arm) const { return count_.at(arm); }
  /// The most pulled arm (the lowest index among ties).
  std::size_t most_pulled() const;

private:
  double sigma_;
  std::vector<double> sum_;
  std::vector<std::uint64_t> count_;
};

/// Plays UCB1 for T steps on params.means with the stream of client 0; records R(t) at the ascending
/// steps `sample_at` (no communication: the curve's cost is 0).
run_result run_ucb1(const config::bandit_params& p, const std::vector<std::uint64_t>& sample_at = {});

} // namespace troupe::bandit
