#pragma once
/// What a bandit run produced: regret, communication, the arm it settled on, and its phase history.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "bandit/regret_curve.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::bandit {

/// The state after one phase (and, last, after the horizon).
struct phase_record {
  std::uint64_t phase = 0;
  std::uint64_t t = 0;                 ///< time steps played so far
  std::uint64_t clients = 0;           ///< M(p)
  std::size_t active_arms = 0;         ///< |K_{p+1}|: arms still active after this phase's elimination
  std::vector<std::size_t> eliminated; ///< E_p
  double bound = 0;                    ///< B_{p,2} / B_{p,1} (0 when the phase did not communicate)
  bool communicated = false;
  double cumulative_regret = 0;  ///< R so far: pull regret + communication cost
  double communication_cost = 0; ///< C·(client–server exchanges so far)

  friend bool operator==(const phase_record& a, const phase_record& b) {
    return a.phase == b.phase && a.t == b.t && a.clients == b.clients && a.active_arms == b.active_arms &&
           a.eliminated == b.eliminated && a.bound == b.bound && a.communicated == b.communicated &&
           a.cumulative_regret == b.cumulative_regret && a.communication_cost == b.communication_cost;
  }
};

struct run_result {
  config::bandit_algorithm algorithm = config::bandit_algorithm::fed2_ucb;
  std::uint64_t horizon = 0;         ///< T
  std::uint64_t phases = 0;          ///< phases begun (a last one cut by T included)
  std::uint64_t clients = 0;         ///< M at the end
  std::uint64_t communications = 0;  ///< Σ M(p) over the communicating phases
  double pull_regret = 0;            ///< Σ_t M(t)·Δ_{π(t)}
  double communication_cost = 0;     ///< C·communications
  std::vector<std::size_t> active;   ///< arms still active at T
  std::optional<std::size_t> chosen; ///< the arm left when elimination ended before T (ucb1: most pulled)
  std::uint64_t decided_at = 0;      ///< t at which one arm remained (0: never)
  std::vector<phase_record> trace;
  regret_curve curve; ///< R(t) at the sample times the run was asked for (none by default)

  /// R(T) = pull regret + communication cost.
  double regret() const { return pull_regret + communication_cost; }
  /// Whether the run settled on the global best arm.
  bool found_best(const config::bandit_params& p) const { return chosen && *chosen == config::best_arm(p); }

  friend bool operator==(const run_result& a, const run_result& b) {
    return a.algorithm == b.algorithm && a.horizon == b.horizon && a.phases == b.phases && a.clients == b.clients &&
           a.communications == b.communications && a.pull_regret == b.pull_regret &&
           a.communication_cost == b.communication_cost && a.active == b.active && a.chosen == b.chosen &&
           a.decided_at == b.decided_at && a.trace == b.trace && a.curve == b.curve;
  }
};

/// The summary fields of `r` (no trace), doubles exact (they round-trip through JSON).
nlohmann::json to_json(const run_result& r);
/// Reads what to_json wrote; throws troupe::error naming a missing or malformed field.
run_result result_from_json(const nlohmann::json& j);

} // namespace troupe::bandit
