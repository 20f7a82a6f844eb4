#pragma once
/// A federated run seen from the server: the algorithm (server_state) plus the regret ledger and
/// the phase history. The in-memory simulation and the server actor both drive this one class,
/// so a distributed run and a simulation with the same seed agree bit for bit.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "bandit/regret.hpp"
#include "bandit/run_result.hpp"
#include "bandit/server_state.hpp"

namespace troupe::bandit {

class server_session {
public:
  /// A session whose ledger also records R(t) at the ascending times `sample_at` (result().curve).
  explicit server_session(const config::bandit_params& p, std::vector<std::uint64_t> sample_at = {});

  /// The next phase, charged to the ledger; nothing once the run is over (result() is then final).
  /// A plan that does not upload ends the run: nobody needs to be told.
  std::optional<phase_plan> next_phase();
  /// Client `client`'s sample means for the collecting phase.
  void receive(std::uint64_t client, const float* means, std::size_t count) { state_.receive(client, means, count); }
  bool complete() const { return state_.complete(); }
  /// Aggregates, eliminates and records the collecting phase.
  const phase_record& finish_phase();

  bool finished() const noexcept { return closed_; }
  const server_state& state() const noexcept { return state_; }
  const regret_ledger& ledger() const noexcept { return ledger_; }
  const run_result& result() const noexcept { return result_; }

private:
  void record(std::uint64_t phase, bool communicated, double bound, std::vector<std::size_t> eliminated);
  void close();

  server_state state_;
  regret_ledger ledger_;
  run_result result_;
  bool closed_ = false;
};

} // namespace troupe::bandit
