#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "actors/aggregator_state.hpp"
#include "ps/protocol.hpp"
#include "runtime/metrics_actor.hpp"

namespace troupe::actors {

void report_refusal(aggregator_state& st, std::size_t rank, std::uint64_t clock, const push_outcome& out) {
  const auto& nf = out.nonfinite;
  std::cerr << fmt::format("troupe-node [{}]: refused the gradient of {} for clock {}: {}; not applied ({} in a row, "
                           "the job stops at {})\n",
                           st.ctx->node, trainer_name(rank), clock, to_string(nf), out.refused_in_a_row,
                           st.core->options().max_refused_in_a_row);
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r["event"] = "gradient_refused";
  r["target"] = trainer_name(rank);
  r["clock"] = clock;
  r["reason"] = to_string(nf);
  r["nan"] = nf.nan;
  r["inf"] = nf.inf;
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : nf.params)
    params.push_back({{"name", p.name}, {"nan", p.nan}, {"inf", p.inf}});
  r["params"] = params;
  r["in_a_row"] = out.refused_in_a_row;
  st.ctx->record(r.dump());
}

namespace {

bool shrinks(const aggregator_state& st) {
  return st.ctx->topo.job.on_trainer_loss == config::trainer_loss_policy::shrink && st.started && !st.finished;
}

/// The "membership" event and console line after trainers left or rejoined. `clock`: from which
/// clock the new membership holds (the round being gathered at a loss; the clock readmitted
/// trainers continue from).
void report_membership(aggregator_state& st, const std::string& reason, std::uint64_t clock) {
  nlohmann::json lost = nlohmann::json::array();
  for (std::size_t r = 0; r < st.core->options().trainers; ++r)
    if (!st.core->present(r))
      lost.push_back(trainer_name(r));
  st.ctx->line(fmt::format("=> membership: {} of {} trainers from clock {} ({})", st.core->present_count(),
                           st.core->options().trainers, clock, reason));
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r["event"] = "membership";
  r["trainers"] = st.core->present_count();
  r["lost"] = lost;
  r["reason"] = reason;
  r["clock"] = clock;
  st.ctx->record(r.dump());
}

} // namespace

std::optional<push_outcome> drop_trainers_of(aggregator_state& st, const std::string& node) {
  if (!shrinks(st))
    return std::nullopt;
  push_outcome all;
  std::vector<std::string> names;
  const std::uint64_t from = st.core->min_clock();
  for (std::size_t r : st.ctx->where.ranks_on(node)) {
    if (!st.core->present(r))
      continue;
    const auto out = st.core->remove_trainer(r);
    all.applied += out.applied;
    for (std::size_t released : out.released)
      if (std::find(all.released.begin(), all.released.end(), released) == all.released.end())
        all.released.push_back(released);
    names.push_back(trainer_name(r));
  }
  if (names.empty())
    return std::nullopt;
  report_membership(st, fmt::format("node '{}' lost ({})", node, fmt::join(names, ", ")), from);
  return all;
}

bool joins_later(const aggregator_state& st, std::size_t rank) {
  return config::find_node(st.ctx->topo, st.ctx->where.trainer_nodes.at(rank)).joins_later;
}

void leave_free_places(aggregator_state& st) {
  std::vector<std::string> free, absent;
  for (std::size_t r = 0; r < st.core->options().trainers; ++r)
    if (!awaited_at_start(st, r) && st.hello_from.count(r) == 0 && st.core->present(r)) {
      st.core->remove_trainer(r); // before the first round: nothing to complete
      (joins_later(st, r) ? free : absent).push_back(trainer_name(r));
    }
  std::vector<std::string> reasons;
  if (!free.empty())
    reasons.push_back(fmt::format("free places, not taken yet: {}", fmt::join(free, ", ")));
  if (!absent.empty())
    reasons.push_back(fmt::format("absent in the checkpoint resumed from: {}", fmt::join(absent, ", ")));
  if (!reasons.empty())
    report_membership(st, fmt::format("{}", fmt::join(reasons, "; ")), st.core->min_clock());
}

std::vector<std::size_t> readmit_trainers_of(aggregator_state& st, const std::string& node) {
  std::vector<std::size_t> ranks;
  if (!shrinks(st))
    return ranks;
  std::vector<std::string> names;
  std::uint64_t from = 0;
  for (std::size_t r : st.ctx->where.ranks_on(node)) {
    if (st.core->present(r))
      continue;
    from = st.core->readmit_trainer(r);
    ranks.push_back(r);
    names.push_back(trainer_name(r));
  }
  if (!ranks.empty())
    report_membership(
        st,
        fmt::format("node '{}' {} ({})", node,
                    st.ctx->where.ranks_on(node).empty() || !joins_later(st, ranks.front()) ? "back" : "joined",
                    fmt::join(names, ", ")),
        from);
  return ranks;
}

} // namespace troupe::actors
