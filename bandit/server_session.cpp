#include "bandit/server_session.hpp"

#include <utility>

#include "common/error.hpp"

namespace troupe::bandit {

server_session::server_session(const config::bandit_params& p, std::vector<std::uint64_t> sample_at)
    : state_(p), ledger_(p, std::move(sample_at)) {
  result_.algorithm = p.algorithm;
  result_.horizon = p.horizon;
}

std::optional<phase_plan> server_session::next_phase() {
  if (state_.finished()) {
    close();
    return std::nullopt;
  }
  phase_plan plan = state_.begin_phase();
  ledger_.add_phase(plan);
  if (!plan.uploads) {
    record(plan.phase, false, 0, {});
    close();
  }
  return plan;
}

const phase_record& server_session::finish_phase() {
  phase_outcome o = state_.finish_phase();
  record(o.phase, true, o.bound, std::move(o.eliminated));
  if (state_.active().size() == 1)
    result_.decided_at = state_.time();
  return result_.trace.back();
}

void server_session::record(std::uint64_t phase, bool communicated, double bound, std::vector<std::size_t> eliminated) {
  phase_record r;
  r.phase = phase;
  r.t = state_.time();
  r.clients = state_.clients();
  r.active_arms = state_.active().size();
  r.eliminated = std::move(eliminated);
  r.bound = bound;
  r.communicated = communicated;
  r.cumulative_regret = ledger_.total();
  r.communication_cost = ledger_.communication_cost();
  result_.trace.push_back(std::move(r));
}

void server_session::close() {
  if (closed_)
    return;
  closed_ = true;
  const auto& p = state_.params();
  if (state_.active().size() == 1) {
    // One arm left: no more admissions or communication; all clients pull it until T.
    ledger_.add_steps(state_.active().front(), state_.clients(), p.horizon - state_.time());
    result_.chosen = state_.active().front();
  }
  result_.phases = state_.phase();
  result_.clients = state_.clients();
  result_.communications = ledger_.communications();
  result_.pull_regret = ledger_.pull_regret();
  result_.communication_cost = ledger_.communication_cost();
  result_.active = state_.active();
  result_.curve = ledger_.curve();
}

} // namespace troupe::bandit
