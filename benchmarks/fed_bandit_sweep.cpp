// fed_bandit_sweep: cumulative regret vs horizon T for Fed2-UCB (approximate model), Fed1-UCB
// (exact model) and single-client UCB1 on the authors' synthetic arms (docs/fed_bandit.md).
//
//   ./build/benchmarks/fed_bandit_sweep                       # T = 10^3 .. 10^6, 20 seeds, ~10 s
//   ./build/benchmarks/fed_bandit_sweep --seeds 100 --c1 1 --c2 1 --svg /tmp/regret.svg
//
// Prints one row per T (mean regret over the seeds, regret / ln T, how often the global best arm
// was identified, clients admitted), writes an SVG plot of regret vs T (log x axis, one panel per
// algorithm, ±1 standard error shaded) and ends with a JSON summary on the last line.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bandit/simulation.hpp"

namespace {

using troupe::config::bandit_algorithm;
using troupe::config::bandit_params;

struct point {
  double T = 0, mean = 0, se = 0, found = 0, clients = 0; ///< found: fraction of seeds that identified the best arm
};

struct series {
  std::string name, color;
  std::vector<point> points;
};

point run_point(bandit_params p, int seeds) {
  point out;
  out.T = static_cast<double>(p.horizon);
  double sum = 0, sq = 0;
  for (int s = 1; s <= seeds; ++s) {
    p.seed = static_cast<std::uint64_t>(s);
    const auto r = troupe::bandit::simulate(p);
    sum += r.regret();
    sq += r.regret() * r.regret();
    out.found += r.found_best(p) ? 1 : 0;
    out.clients += static_cast<double>(r.clients);
  }
  const double n = seeds;
  out.mean = sum / n;
  out.se = seeds > 1 ? std::sqrt(std::max(0.0, (sq - sum * sum / n) / (n - 1)) / n) : 0;
  out.found /= n;
  out.clients /= n;
  return out;
}

std::string num(double v) {
  return fmt::format("{:.1f}", v);
}

/// One panel: regret vs T, log x axis, linear y axis from 0.
void panel(std::ostream& svg, const series& s, double x0, double y0, double w, double h) {
  const double lo = std::log10(s.points.front().T), hi = std::log10(s.points.back().T);
  double top = 0;
  for (const auto& p : s.points)
    top = std::max(top, p.mean + p.se);
  // Four y ticks of a round size: the smallest of 1, 2, 2.5, 5 × 10^k covering a quarter of the data.
  const double decade = std::pow(10.0, std::floor(std::log10(top / 4)));
  double ticks = 10 * decade;
  for (double m : {1.0, 2.0, 2.5, 5.0})
    if (m * decade >= top / 4) {
      ticks = m * decade;
      break;
    }
  top = 4 * ticks;
  auto X = [&](double T) { return x0 + (std::log10(T) - lo) / (hi - lo) * w; };
  auto Y = [&](double v) { return y0 + h - v / top * h; };
  svg << fmt::format("<rect x='{}' y='{}' width='{}' height='{}' fill='none' stroke='#888'/>\n", num(x0), num(y0),
                     num(w), num(h));
  svg << fmt::format("<text x='{}' y='{}' text-anchor='middle' font-size='15'>{}</text>\n", num(x0 + w / 2),
                     num(y0 - 10), s.name);
  for (int i = 0; i <= 4; ++i) {
    const double v = i * ticks;
    svg << fmt::format("<line x1='{0}' x2='{1}' y1='{2}' y2='{2}' stroke='#ddd'/><text x='{3}' y='{4}' "
                       "text-anchor='end' font-size='11'>{5}</text>\n",
                       num(x0), num(x0 + w), num(Y(v)), num(x0 - 5), num(Y(v) + 4), fmt::format("{:g}", v));
  }
  for (double e = std::ceil(lo); e <= hi + 1e-9; e += 1)
    svg << fmt::format("<line x1='{0}' x2='{0}' y1='{1}' y2='{2}' stroke='#ddd'/><text x='{0}' y='{3}' "
                       "text-anchor='middle' font-size='11'>10<tspan dy='-5' font-size='9'>{4}</tspan></text>\n",
                       num(X(std::pow(10, e))), num(y0), num(y0 + h), num(y0 + h + 16), static_cast<int>(e));
  std::string band, line;
  for (const auto& p : s.points)
    band += fmt::format("{},{} ", num(X(p.T)), num(Y(p.mean + p.se)));
  for (auto it = s.points.rbegin(); it != s.points.rend(); ++it)
    band += fmt::format("{},{} ", num(X(it->T)), num(Y(std::max(0.0, it->mean - it->se))));
  for (const auto& p : s.points)
    line += fmt::format("{},{} ", num(X(p.T)), num(Y(p.mean)));
  svg << fmt::format("<polygon points='{}' fill='{}' fill-opacity='0.2' stroke='none'/>\n", band, s.color);
  // Dashed: c·ln T through the last point; a curve that hugs it grows like log T.
  const point& last = s.points.back();
  const double c = last.mean / std::log(last.T);
  std::string ref;
  for (const auto& p : s.points)
    ref += fmt::format("{},{} ", num(X(p.T)), num(Y(c * std::log(p.T))));
  svg << fmt::format("<polyline points='{}' fill='none' stroke='#444' stroke-dasharray='5,4'/>\n", ref);
  svg << fmt::format("<text x='{}' y='{}' font-size='11' fill='#444'>dashed: {:.0f}·ln T</text>\n", num(x0 + 6),
                     num(y0 + 16), c);
  svg << fmt::format("<polyline points='{}' fill='none' stroke='{}' stroke-width='2'/>\n", line, s.color);
  for (const auto& p : s.points)
    svg << fmt::format("<circle cx='{}' cy='{}' r='3' fill='{}'/>\n", num(X(p.T)), num(Y(p.mean)), s.color);
  svg << fmt::format("<text x='{}' y='{}' text-anchor='middle' font-size='12'>horizon T (log scale)</text>\n",
                     num(x0 + w / 2), num(y0 + h + 34));
}

void write_svg(const std::string& path, const std::vector<series>& all, int seeds) {
  std::ofstream svg(path);
  if (!svg)
    throw std::runtime_error("cannot write " + path);
  const double w = 300, h = 240, gap = 90, left = 80, top = 70;
  const double width = left + all.size() * (w + gap), height = top + h + 70;
  svg << fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif'>\n",
                     num(width), num(height));
  svg << "<rect width='100%' height='100%' fill='white'/>\n";
  svg << fmt::format("<text x='{}' y='28' text-anchor='middle' font-size='17'>Cumulative regret R(T) vs T "
                     "(mean of {} seeds, band = ±1 s.e.; K = 10, Δmin = 0.02)</text>\n",
                     num(width / 2), seeds);
  svg << fmt::format("<text x='18' y='{}' font-size='13' transform='rotate(-90 18 {})' text-anchor='middle'>"
                     "cumulative regret</text>\n",
                     num(top + h / 2), num(top + h / 2));
  for (std::size_t i = 0; i < all.size(); ++i)
    panel(svg, all[i], left + i * (w + gap), top, w, h);
  svg << "</svg>\n";
}

} // namespace

int main(int argc, char** argv) {
  int seeds = 20, per_decade = 4, fed1_clients = 5;
  double t_min = 1e3, t_max = 1e6, c1 = 6, c2 = 6, kappa = 100, fed1_kappa = 10, fed1_c1 = 6;
  std::string svg_path = "fed_bandit_regret.svg";
  CLI::App app{"Cumulative regret vs T for Fed2-UCB, Fed1-UCB and UCB1"};
  app.add_option("--seeds", seeds, "Runs per point")->check(CLI::PositiveNumber);
  app.add_option("--t-min", t_min, "Smallest horizon")->check(CLI::Range(10.0, 1e9));
  app.add_option("--t-max", t_max, "Largest horizon")->check(CLI::Range(10.0, 1e9));
  app.add_option("--per-decade", per_decade, "Horizons per factor 10")->check(CLI::Range(1, 20));
  app.add_option("--c1", c1, "Fed2-UCB arm-sampling constant (theory 6; the authors' runs 1-2)");
  app.add_option("--c2", c2, "Fed2-UCB client-sampling constant (theory 6; the authors' runs 1)");
  app.add_option("--kappa", kappa, "Fed2-UCB f(p) = kappa pulls per arm per phase");
  app.add_option("--fed1-kappa", fed1_kappa, "Fed1-UCB f(p) = ceil(kappa ln T)");
  app.add_option("--fed1-c1", fed1_c1, "Fed1-UCB bound constant (theory 6; the authors' runs 4)");
  app.add_option("--fed1-clients", fed1_clients, "Fed1-UCB clients M")->check(CLI::PositiveNumber);
  app.add_option("--svg", svg_path, "Where to write the plot");
  CLI11_PARSE(app, argc, argv);
  if (t_max < t_min) {
    std::cerr << "fed_bandit_sweep: --t-max must be >= --t-min\n";
    return 2;
  }

  bandit_params base;
  base.means = {0.70, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.765, 0.77, 0.79};
  base.sigma = 0.5;
  base.sigma_c = 0.02;
  base.comm_cost = 1;
  std::vector<double> horizons;
  const int n = static_cast<int>(std::round(std::log10(t_max / t_min) * per_decade));
  for (int i = 0; i <= n; ++i)
    horizons.push_back(std::round(t_min * std::pow(t_max / t_min, n == 0 ? 0.0 : double(i) / n)));

  std::vector<series> all = {{"Fed2-UCB (approximate model)", "#d62728", {}},
                             {"Fed1-UCB (exact model, M = " + std::to_string(fed1_clients) + ")", "#1f77b4", {}},
                             {"UCB1 (one client)", "#2ca02c", {}}};
  const auto start = std::chrono::steady_clock::now();
  std::cout << fmt::format("{} seeds; Fed2-UCB kappa={} c1={} c2={} g=2^p; Fed1-UCB M={} kappa={} c1={}; C=1\n", seeds,
                           kappa, c1, c2, fed1_clients, fed1_kappa, fed1_c1);
  std::cout << fmt::format("{:>9} | {:>10} {:>8} {:>5} {:>7} | {:>9} {:>7} {:>5} | {:>8} {:>7} {:>5}\n", "T",
                           "Fed2 R(T)", "R/lnT", "best", "clients", "Fed1 R(T)", "R/lnT", "best", "UCB1 R", "R/lnT",
                           "best");
  for (double T : horizons) {
    bandit_params f2 = base, f1 = base, u = base;
    f2.algorithm = bandit_algorithm::fed2_ucb;
    f2.horizon = f1.horizon = u.horizon = static_cast<std::uint64_t>(T);
    f2.kappa = kappa;
    f2.c1 = c1;
    f2.c2 = c2;
    f1.algorithm = bandit_algorithm::fed1_ucb;
    f1.f = troupe::config::pulls_kind::log;
    f1.kappa = fed1_kappa;
    f1.c1 = fed1_c1;
    f1.clients = static_cast<std::uint64_t>(fed1_clients);
    u.algorithm = bandit_algorithm::ucb1;
    all[0].points.push_back(run_point(f2, seeds));
    all[1].points.push_back(run_point(f1, seeds));
    all[2].points.push_back(run_point(u, seeds));
    const double l = std::log(T);
    const point &a = all[0].points.back(), &b = all[1].points.back(), &c = all[2].points.back();
    std::cout << fmt::format("{:>9} | {:>10.0f} {:>8.1f} {:>4.0f}% {:>7.0f} | {:>9.0f} {:>7.1f} {:>4.0f}% | {:>8.0f} "
                             "{:>7.1f} {:>4.0f}%\n",
                             T, a.mean, a.mean / l, 100 * a.found, a.clients, b.mean, b.mean / l, 100 * b.found, c.mean,
                             c.mean / l, 100 * c.found)
              << std::flush;
  }
  write_svg(svg_path, all, seeds);

  // Levelling off: the spread of Fed2-UCB's R(T)/ln T over the last decade of T.
  double lo = INFINITY, hi = 0;
  for (const auto& p : all[0].points)
    if (p.T * 10 >= horizons.back() * 0.999) {
      lo = std::min(lo, p.mean / std::log(p.T));
      hi = std::max(hi, p.mean / std::log(p.T));
    }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << fmt::format("Fed2-UCB R(T)/ln T over the last decade: {:.1f} .. {:.1f} (max/min {:.2f}); best arm "
                           "identified in {:.0f}% of runs at T = {:g}; plot: {}; {:.1f} s\n",
                           lo, hi, hi / lo, 100 * all[0].points.back().found, horizons.back(), svg_path, seconds);
  nlohmann::json summary = {
      {"bench", "fed_bandit_sweep"},     {"seeds", seeds}, {"T", horizons}, {"svg", svg_path}, {"seconds", seconds},
      {"fed2_per_log_T_spread", hi / lo}};
  const char* keys[] = {"fed2_ucb", "fed1_ucb", "ucb1"};
  for (std::size_t i = 0; i < all.size(); ++i) {
    nlohmann::json s;
    for (const auto& p : all[i].points) {
      s["regret"].push_back(std::round(p.mean * 10) / 10);
      s["regret_per_log_T"].push_back(std::round(p.mean / std::log(p.T) * 10) / 10);
      s["found_best"].push_back(p.found);
      s["clients"].push_back(p.clients);
    }
    summary[keys[i]] = s;
  }
  std::cout << summary.dump() << std::endl;
  return 0;
}
