// fed_bandit_sweep: regret over time R(t) of Fed2-UCB (approximate model), Fed1-UCB (exact model) and
// single-client UCB1, averaged over seeds with standard errors, each federated curve also without
// communication cost (C = 0). The model, the algorithms and measured numbers: docs/fed_bandit.md.
//
//   ./build/benchmarks/fed_bandit_sweep                             # theory constants, 20 seeds, T = 1e6, ~2 s
//   ./build/benchmarks/fed_bandit_sweep --preset paper --seeds 100  # the authors' constants, ~8 s
//   ./build/benchmarks/fed_bandit_sweep --preset paper --T 1e4      # their T = 1e4 run (Fed2 f = 50, c1 = 2)
//   ./build/benchmarks/fed_bandit_sweep --config examples/fed_bandit.yaml --sigma 0.3 --no-ucb1
//
// Prints the settings, one row per curve (R(T) mean ± standard error, its communication part, runs
// that found the best arm, clients, when one arm was left), R(t) ± s.e. at powers of 10, writes the
// SVG (--svg) and the CSV beside it (--csv), and ends with a JSON summary on the last line.

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bandit/environment.hpp"
#include "bandit/regret_curve.hpp"
#include "bandit/schedule.hpp"
#include "bandit/sweep.hpp"
#include "benchmarks/fed_bandit/regret_plot.hpp"
#include "benchmarks/fed_bandit/sweep_cli.hpp"
#include "common/error.hpp"

namespace {

using troupe::config::admission_kind;
using troupe::config::bandit_params;

std::string g_text(const bandit_params& p) {
  if (p.g == admission_kind::exponential)
    return fmt::format("{}^p", p.g_value);
  return p.g == admission_kind::constant ? fmt::format("{}", p.g_value) : fmt::format("{}·p", p.g_value);
}

/// The settings, so a printout can be set beside a figure without the command line.
void print_settings(const troupe::bench::sweep_command& cmd) {
  const auto& s = cmd.spec;
  const auto& e = s.fed2;
  const auto g = troupe::bandit::gaps(e);
  double gap_min = INFINITY;
  for (double d : g)
    if (d > 0)
      gap_min = std::min(gap_min, d);
  std::cout << fmt::format("settings: {}{}; {} seeds ({} .. {}), T = {}, K = {}, Δmin = {:g}, σ = {:g}, σ_c = {:g}, "
                           "C = {:g}\n",
                           s.source, cmd.preset.empty() ? "" : ", --preset " + cmd.preset, s.seeds, e.seed,
                           e.seed + s.seeds - 1, e.horizon, e.means.size(), gap_min, e.sigma, e.sigma_c, e.comm_cost);
  std::cout << fmt::format("  Fed2-UCB: f(p) = {} ({}), g(p) = {}, c1 = {:g}, c2 = {:g}, at most {} clients\n",
                           troupe::bandit::pulls_per_arm(e, 1),
                           e.f == troupe::config::pulls_kind::log ? "⌈κ ln T⌉" : "κ", g_text(e), e.c1, e.c2,
                           e.max_clients);
  const auto& f1 = s.fed1;
  std::cout << fmt::format(
      "  Fed1-UCB: M = {}, f(p) = ⌈κ ln T⌉ = {} (κ = {:g}), c1 = {:g}, exact model {}\n", f1.clients,
      troupe::bandit::pulls_per_arm(f1, 1), f1.kappa, f1.c1,
      f1.exact == troupe::config::exact_kind::skewed ? fmt::format("skewed (low {:g})", f1.exact_low) : "centered");
  for (const auto& n : cmd.notes)
    std::cout << "note: " << n << '\n';
}

/// "mean ± s.e.", with a decimal while the standard error is below 10.
std::string pm(const troupe::bandit::running_stats& s) {
  const int digits = s.standard_error() < 10 ? 1 : 0;
  return fmt::format("{:.{}f} ± {:.{}f}", s.mean(), digits, s.standard_error(), digits);
}

/// When one arm was left, on average over the runs where that happened before T (and how many they were).
std::string decided(const troupe::bandit::curve_stats& s) {
  if (s.decided_at.count() == 0)
    return "-";
  if (s.decided_at.count() == s.seeds)
    return fmt::format("{:.0f}", s.decided_at.mean());
  return fmt::format("{:.0f} ({}/{})", s.decided_at.mean(), s.decided_at.count(), s.seeds);
}

int run(int argc, char** argv) {
  CLI::App app{"Regret over time of Fed2-UCB, Fed1-UCB and UCB1, averaged over seeds (docs/fed_bandit.md)"};
  troupe::bench::sweep_cli cli(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const auto cmd = cli.resolve();
  print_settings(cmd);

  const auto start = std::chrono::steady_clock::now();
  const auto curves = troupe::bandit::sweep_curves(cmd.spec);
  const auto times = troupe::bandit::sample_times(cmd.spec.fed2.horizon, cmd.spec.points);
  std::vector<troupe::bandit::curve_stats> stats;
  std::cout << fmt::format("{:<52} {:>17} {:>13} {:>6} {:>8} {:>12}\n", "curve", "R(T) ± s.e.", "of which comm.",
                           "best", "clients", "one arm at t");
  for (const auto& c : curves) {
    stats.push_back(troupe::bandit::run_curve(c, cmd.spec.seeds, times));
    const auto& s = stats.back();
    std::cout << fmt::format("{:<52} {:>17} {:>13.0f} {:>5.0f}% {:>8.0f} {:>12}\n", c.name, pm(s.final_regret()),
                             s.communication_cost.back().mean(),
                             100.0 * static_cast<double>(s.found_best) / static_cast<double>(s.seeds), s.clients.mean(),
                             decided(s))
              << std::flush;
  }

  // R(t) ± s.e. at the last four powers of 10 up to T (they are among the sample times), and at T.
  std::vector<std::size_t> cols;
  const double T = static_cast<double>(times.back());
  for (int k = std::max(1, static_cast<int>(std::floor(std::log10(T))) - 3); std::pow(10.0, k) <= T; ++k)
    for (std::size_t j = 0; j < times.size(); ++j)
      if (static_cast<double>(times[j]) == std::pow(10.0, k))
        cols.push_back(j);
  if (cols.empty() || cols.back() != times.size() - 1)
    cols.push_back(times.size() - 1);
  std::cout << fmt::format("{:<52}", "R(t) ± s.e. at t =");
  for (std::size_t j : cols)
    std::cout << fmt::format(" {:>17}", times[j]);
  std::cout << '\n';
  for (const auto& s : stats) {
    std::cout << fmt::format("{:<52}", s.curve.name);
    for (std::size_t j : cols)
      std::cout << fmt::format(" {:>17}", pm(s.regret[j]));
    std::cout << '\n';
  }

  std::ofstream csv(cmd.csv_path);
  troupe::bandit::write_csv(csv, stats);
  if (!csv.flush())
    throw troupe::error(fmt::format("cannot write the CSV to {}", cmd.csv_path));
  const auto& e = cmd.spec.fed2;
  const std::string title = fmt::format(
      "Regret over time, {} seeds: K = {}, σ = {:g}, σ_c = {:g}, C = {:g}, T = {}; Fed2 c1 = {:g}, c2 = {:g}, "
      "f = {}; Fed1 M = {}, c1 = {:g}",
      cmd.spec.seeds, e.means.size(), e.sigma, e.sigma_c, e.comm_cost, e.horizon, e.c1, e.c2,
      troupe::bandit::pulls_per_arm(e, 1), cmd.spec.fed1.clients, cmd.spec.fed1.c1);
  troupe::bench::write_regret_svg(cmd.svg_path, stats, title, cmd.log_t);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << fmt::format("wrote {} and {} ({} curves × {} times); {:.1f} s\n", cmd.svg_path, cmd.csv_path,
                           stats.size(), times.size(), seconds);

  nlohmann::json summary = {
      {"bench", "fed_bandit_sweep"}, {"preset", cmd.preset}, {"seeds", cmd.spec.seeds}, {"T", e.horizon},
      {"svg", cmd.svg_path},         {"csv", cmd.csv_path},  {"seconds", seconds}};
  for (const auto& s : stats)
    summary["curves"][s.curve.id] = {{"regret", s.final_regret().mean()},
                                     {"regret_se", s.final_regret().standard_error()},
                                     {"communication_cost", s.communication_cost.back().mean()},
                                     {"found_best", static_cast<double>(s.found_best) / static_cast<double>(s.seeds)},
                                     {"clients", s.clients.mean()}};
  std::cout << summary.dump() << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fed_bandit_sweep: error: " << e.what() << '\n';
    return 2;
  }
}
