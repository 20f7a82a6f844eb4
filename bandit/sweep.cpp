#include "bandit/sweep.hpp"

#include <fmt/format.h>

#include "bandit/simulation.hpp"
#include "common/error.hpp"

namespace troupe::bandit {

std::vector<sweep_curve> sweep_curves(const config::bandit_sweep_spec& s) {
  std::vector<sweep_curve> out;
  // The C = 0 runs are separate simulations, not the pull regret of the C > 0 ones: C enters only
  // the regret, never a decision, so their R(t) equals the other curve's R(t) − C·exchanges(t).
  const auto federated = [&](const config::bandit_params& p, const std::string& id, const std::string& name) {
    out.push_back({id, fmt::format("{} (C = {})", name, p.comm_cost), p});
    if (p.comm_cost > 0) {
      config::bandit_params no_cost = p;
      no_cost.comm_cost = 0;
      out.push_back({id + "_c0", name + " without communication cost (C = 0)", no_cost});
    }
  };
  federated(s.fed2, "fed2_ucb", "Fed2-UCB");
  federated(s.fed1, "fed1_ucb", fmt::format("Fed1-UCB, M = {}", s.fed1.clients));
  if (s.run_ucb1)
    out.push_back({"ucb1", "UCB1 (one client, no communication)", s.ucb1});
  return out;
}

curve_stats run_curve(const sweep_curve& curve, std::uint64_t seeds, const std::vector<std::uint64_t>& times) {
  TROUPE_ENFORCE(seeds >= 1, "a curve needs at least one seed");
  TROUPE_ENFORCE(!times.empty() && times.back() == curve.params.horizon,
                 "the sample times of a curve must end at T = {}", curve.params.horizon);
  curve_stats out;
  out.curve = curve;
  out.seeds = seeds;
  out.t = times;
  out.regret.resize(times.size());
  out.communication_cost.resize(times.size());
  config::bandit_params p = curve.params;
  for (std::uint64_t i = 0; i < seeds; ++i) {
    p.seed = curve.params.seed + i;
    const run_result r = simulate(p, times);
    TROUPE_ENFORCE(r.curve.t == times, "the run of seed {} sampled {} of {} times", p.seed, r.curve.t.size(),
                   times.size());
    for (std::size_t j = 0; j < times.size(); ++j) {
      out.regret[j].add(r.curve.regret[j]);
      out.communication_cost[j].add(r.curve.communication_cost[j]);
    }
    out.clients.add(static_cast<double>(r.clients));
    if (r.decided_at > 0)
      out.decided_at.add(static_cast<double>(r.decided_at));
    out.found_best += r.found_best(p) ? 1 : 0;
  }
  return out;
}

const std::vector<std::string>& csv_columns() {
  static const std::vector<std::string> columns = {"curve",
                                                   "algorithm",
                                                   "C",
                                                   "T",
                                                   "seeds",
                                                   "t",
                                                   "regret_mean",
                                                   "regret_se",
                                                   "communication_cost_mean",
                                                   "communication_cost_se"};
  return columns;
}

void write_csv(std::ostream& out, const std::vector<curve_stats>& curves) {
  out << fmt::format("{}\n", fmt::join(csv_columns(), ","));
  // Doubles print in their shortest round-trip form: the CSV holds exactly what was computed.
  for (const auto& c : curves)
    for (std::size_t j = 0; j < c.t.size(); ++j)
      out << fmt::format("{},{},{},{},{},{},{},{},{},{}\n", c.curve.id, config::to_string(c.curve.params.algorithm),
                         c.curve.params.comm_cost, c.curve.params.horizon, c.seeds, c.t[j], c.regret[j].mean(),
                         c.regret[j].standard_error(), c.communication_cost[j].mean(),
                         c.communication_cost[j].standard_error());
}

} // namespace troupe::bandit
