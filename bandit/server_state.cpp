#include "bandit/server_state.hpp"

#include <algorithm>
#include <cmath>

#include "bandit/confidence.hpp"
#include "bandit/schedule.hpp"
#include "common/error.hpp"

namespace troupe::bandit {

server_state::server_state(config::bandit_params params) : p_(std::move(params)) {
  TROUPE_ENFORCE(p_.algorithm != config::bandit_algorithm::ucb1, "server_state runs fed2_ucb or fed1_ucb, not ucb1");
  TROUPE_ENFORCE(p_.means.size() >= 2, "a bandit needs at least two arms, got {}", p_.means.size());
  TROUPE_ENFORCE(p_.horizon >= 2, "the horizon T must be >= 2, got {}", p_.horizon);
  ln_T_ = std::log(static_cast<double>(p_.horizon));
  for (std::size_t k = 0; k < p_.means.size(); ++k)
    active_.push_back(k);
}

phase_plan server_state::begin_phase() {
  TROUPE_ENFORCE(!finished_ && !collecting_, "begin_phase: the run is finished or a phase is still collecting");
  ++phase_;
  phase_plan plan;
  plan.phase = phase_;
  plan.t_begin = t_;
  plan.first_new = clients_;
  const std::uint64_t g = admissions(p_, phase_, clients_);
  clients_ += g;
  g_.push_back(g);
  plan.clients = clients_;
  plan.pulls = pulls_per_arm(p_, phase_);
  plan.active = active_;
  F_.push_back(F_.back() + plan.pulls);

  const std::uint64_t left = p_.horizon - t_;
  const std::uint64_t n = active_.size();
  const bool fits = plan.pulls <= left / n; // |K_p|·f(p) <= T − t without overflow
  plan.steps = fits ? n * plan.pulls : left;
  t_ += plan.steps;
  plan.uploads = t_ < p_.horizon; // a result arriving at T could change nothing
  if (!plan.uploads) {
    finished_ = true;
    return plan;
  }
  collecting_ = true;
  uploads_.assign(clients_ * n, 0.0f);
  received_.assign(clients_, 0);
  missing_ = clients_;
  return plan;
}

void server_state::receive(std::uint64_t client, const float* means, std::size_t count) {
  TROUPE_ENFORCE(collecting_, "receive: no phase is collecting uploads");
  TROUPE_ENFORCE(client < clients_, "receive: client {} does not exist in phase {} (M = {})", client, phase_, clients_);
  TROUPE_ENFORCE(count == active_.size(), "receive: client {} sent {} means for {} active arms", client, count,
                 active_.size());
  TROUPE_ENFORCE(!received_[client], "receive: client {} uploaded twice in phase {}", client, phase_);
  for (std::size_t i = 0; i < count; ++i) {
    TROUPE_ENFORCE(std::isfinite(means[i]), "receive: client {} sent a non-finite mean for arm {}", client, active_[i]);
    uploads_[client * count + i] = means[i];
  }
  received_[client] = 1;
  --missing_;
}

bool server_state::complete() const {
  return collecting_ && missing_ == 0;
}

double server_state::bound() const {
  if (p_.algorithm == config::bandit_algorithm::fed1_ucb)
    return fed1_bound(clients_, F_.back(), p_.sigma, ln_T_, p_.c1);
  return fed2_bound(eta(g_, F_), clients_, p_.sigma, p_.sigma_c, ln_T_, p_.c1, p_.c2);
}

phase_outcome server_state::finish_phase() {
  TROUPE_ENFORCE(complete(), "finish_phase: {} of {} clients have not uploaded", missing_, clients_);
  const std::size_t n = active_.size();
  phase_outcome out;
  out.phase = phase_;
  out.active = active_;
  out.means.assign(n, 0.0);
  // μ̄_k(p) = (1/M(p)) Σ_m μ̂_{k,m}(p), summed in client-id order whatever the arrival order.
  for (std::uint64_t m = 0; m < clients_; ++m)
    for (std::size_t i = 0; i < n; ++i)
      out.means[i] += static_cast<double>(uploads_[m * n + i]);
  for (double& mu : out.means)
    mu /= static_cast<double>(clients_);
  out.bound = bound();
  out.eliminated = eliminated(active_, out.means, out.bound);
  std::vector<std::size_t> keep;
  for (std::size_t arm : active_)
    if (std::find(out.eliminated.begin(), out.eliminated.end(), arm) == out.eliminated.end())
      keep.push_back(arm);
  active_ = std::move(keep);
  collecting_ = false;
  finished_ = active_.size() <= 1;
  return out;
}

} // namespace troupe::bandit
