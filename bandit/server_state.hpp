#pragma once
/// The server of Fed2-UCB / Fed1-UCB as a plain state machine (no transport, no true means).
///
///        begin_phase()                 receive() × M(p)             finish_phase()
///   idle ─────────────> collecting ─────────────────────> complete ──────────────> idle
///     │  (plan.uploads == false: the phase runs into T)                             │
///     └──> finished <───────────────── (one arm left, or t = T) <───────────────────┘
///
/// Phase p: admit g(p) clients; each of the M(p) clients pulls every active arm f(p) times,
/// round-robin over K_p (|K_p|·f(p) time steps); if time is left, they upload their sample
/// means, the server averages them in client-id order and eliminates arms with the bound.
/// A phase cut short by the horizon T ends the run without a communication round.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "config/bandit_spec.hpp"

namespace troupe::bandit {

/// What every client does in one phase.
struct phase_plan {
  std::uint64_t phase = 0;         ///< p, from 1
  std::uint64_t t_begin = 0;       ///< time steps before this phase
  std::uint64_t steps = 0;         ///< time steps of this phase: |K_p|·f(p), or fewer when T cuts it
  std::uint64_t pulls = 0;         ///< f(p)
  std::uint64_t first_new = 0;     ///< the clients admitted now are [first_new, clients)
  std::uint64_t clients = 0;       ///< M(p)
  std::vector<std::size_t> active; ///< K_p, ascending
  bool uploads = false;            ///< whether the phase ends with a communication round
};

/// The server's decision at the end of a phase.
struct phase_outcome {
  std::uint64_t phase = 0;
  std::vector<std::size_t> active;     ///< K_p
  std::vector<double> means;           ///< μ̄_k(p) for the arms of K_p
  double bound = 0;                    ///< B_{p,2} (fed2) or B_{p,1} (fed1)
  std::vector<std::size_t> eliminated; ///< E_p
};

class server_state {
public:
  /// A server for params.algorithm fed2_ucb or fed1_ucb.
  explicit server_state(config::bandit_params params);

  /// True once one arm is left or the horizon is reached.
  bool finished() const noexcept { return finished_; }
  /// Starts the next phase; precondition: !finished() and no phase is collecting.
  phase_plan begin_phase();
  /// Records client `client`'s sample means for the collecting phase (one float per active arm).
  void receive(std::uint64_t client, const float* means, std::size_t count);
  /// Whether every client of the collecting phase has uploaded.
  bool complete() const;
  /// Aggregates, eliminates and closes the phase; precondition: complete().
  phase_outcome finish_phase();

  const config::bandit_params& params() const noexcept { return p_; }
  const std::vector<std::size_t>& active() const noexcept { return active_; }
  std::uint64_t time() const noexcept { return t_; }
  std::uint64_t clients() const noexcept { return clients_; }
  std::uint64_t phase() const noexcept { return phase_; }
  /// The current bound for the collecting phase's sample counts (B_{p,2} or B_{p,1}).
  double bound() const;

private:
  config::bandit_params p_;
  double ln_T_;
  std::vector<std::size_t> active_;
  std::uint64_t t_ = 0, phase_ = 0, clients_ = 0;
  std::vector<std::uint64_t> g_;    ///< g(1..p)
  std::vector<std::uint64_t> F_{0}; ///< F(0..p)
  std::vector<float> uploads_;      ///< M(p) × |K_p|, row = client id
  std::vector<char> received_;
  std::uint64_t missing_ = 0;
  bool collecting_ = false, finished_ = false;
};

} // namespace troupe::bandit
