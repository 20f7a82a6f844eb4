#include "benchmarks/fed_bandit/regret_plot.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::bench {

namespace {

using bandit::curve_stats;

std::string num(double v) {
  return fmt::format("{:.1f}", v);
}

/// The smallest of 1, 2, 2.5, 5 × 10^k that is at least `span` / `count`: a round tick step.
double tick_step(double span, int count) {
  const double raw = span / count;
  const double decade = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0})
    if (m * decade >= raw * (1 - 1e-9))
      return m * decade;
  return 10 * decade;
}

const char* color_of(config::bandit_algorithm a) {
  switch (a) {
  case config::bandit_algorithm::fed2_ucb:
    return "#d62728";
  case config::bandit_algorithm::fed1_ucb:
    return "#1f77b4";
  default:
    return "#2ca02c";
  }
}

std::string panel_title(const config::bandit_params& p) {
  switch (p.algorithm) {
  case config::bandit_algorithm::fed2_ucb:
    return "Fed2-UCB (approximate model)";
  case config::bandit_algorithm::fed1_ucb:
    return fmt::format("Fed1-UCB (exact model, M = {})", p.clients);
  default:
    return "UCB1 (one client on the global bandit)";
  }
}

/// One panel: the curves of one algorithm, R(t) against t.
void panel(std::ostream& svg, const std::vector<const curve_stats*>& curves, bool log_t, double x0, double y0, double w,
           double h) {
  const double T = static_cast<double>(curves.front()->t.back());
  const double t_lo = log_t ? std::log10(static_cast<double>(curves.front()->t.front())) : 0.0;
  const double t_hi = log_t ? std::log10(T) : T;
  double top = 0;
  for (const auto* c : curves)
    for (std::size_t j = 0; j < c->t.size(); ++j)
      top = std::max(top, c->regret[j].mean() + c->regret[j].standard_error());
  const double y_step = tick_step(top > 0 ? top : 1, 4);
  top = y_step * std::ceil((top > 0 ? top : 1) / y_step - 1e-9);
  auto X = [&](double t) { return x0 + ((log_t ? std::log10(t) : t) - t_lo) / (t_hi - t_lo) * w; };
  auto Y = [&](double v) { return y0 + h - v / top * h; };

  svg << fmt::format("<rect x='{}' y='{}' width='{}' height='{}' fill='none' stroke='#888'/>\n", num(x0), num(y0),
                     num(w), num(h));
  svg << fmt::format("<text x='{}' y='{}' text-anchor='middle' font-size='14'>{}</text>\n", num(x0 + w / 2),
                     num(y0 - 8), panel_title(curves.front()->curve.params));
  for (double v = 0; v <= top * (1 + 1e-9); v += y_step)
    svg << fmt::format("<line x1='{0}' x2='{1}' y1='{2}' y2='{2}' stroke='#ddd'/><text x='{3}' y='{4}' "
                       "text-anchor='end' font-size='11'>{5:g}</text>\n",
                       num(x0), num(x0 + w), num(Y(v)), num(x0 - 5), num(Y(v) + 4), v);
  if (log_t) {
    for (double e = std::ceil(t_lo); e <= t_hi + 1e-9; e += 1)
      svg << fmt::format("<line x1='{0}' x2='{0}' y1='{1}' y2='{2}' stroke='#ddd'/><text x='{0}' y='{3}' "
                         "text-anchor='middle' font-size='11'>10<tspan dy='-5' font-size='9'>{4}</tspan></text>\n",
                         num(X(std::pow(10, e))), num(y0), num(y0 + h), num(y0 + h + 16), static_cast<int>(e));
  } else {
    const double scale = T >= 1e4 ? std::pow(10.0, std::floor(std::log10(T))) : 1.0;
    const double step = tick_step(T, 5);
    for (double t = 0; t <= T * (1 + 1e-9); t += step)
      svg << fmt::format("<line x1='{0}' x2='{0}' y1='{1}' y2='{2}' stroke='#ddd'/><text x='{0}' y='{3}' "
                         "text-anchor='middle' font-size='11'>{4:g}</text>\n",
                         num(X(t)), num(y0), num(y0 + h), num(y0 + h + 16), t / scale);
    if (scale > 1)
      svg << fmt::format("<text x='{}' y='{}' text-anchor='end' font-size='11'>×10<tspan dy='-5' "
                         "font-size='9'>{}</tspan></text>\n",
                         num(x0 + w), num(y0 + h + 30), static_cast<int>(std::log10(scale)));
  }
  svg << fmt::format("<text x='{}' y='{}' text-anchor='middle' font-size='12'>time step t{}</text>\n", num(x0 + w / 2),
                     num(y0 + h + 34), log_t ? " (log scale)" : "");

  for (std::size_t i = 0; i < curves.size(); ++i) {
    const curve_stats& c = *curves[i];
    const bool no_cost = c.curve.params.comm_cost == 0 && c.curve.params.algorithm != config::bandit_algorithm::ucb1;
    const char* color = color_of(c.curve.params.algorithm);
    std::string band, line;
    for (std::size_t j = 0; j < c.t.size(); ++j)
      band += fmt::format("{},{} ", num(X(static_cast<double>(c.t[j]))),
                          num(Y(c.regret[j].mean() + c.regret[j].standard_error())));
    for (std::size_t j = c.t.size(); j-- > 0;)
      band += fmt::format("{},{} ", num(X(static_cast<double>(c.t[j]))),
                          num(Y(std::max(0.0, c.regret[j].mean() - c.regret[j].standard_error()))));
    for (std::size_t j = 0; j < c.t.size(); ++j)
      line += fmt::format("{},{} ", num(X(static_cast<double>(c.t[j]))), num(Y(c.regret[j].mean())));
    svg << fmt::format("<polygon points='{}' fill='{}' fill-opacity='{}' stroke='none'/>\n", band, color,
                       no_cost ? "0.12" : "0.25");
    const std::string dash = no_cost ? " stroke-dasharray='6,4'" : "";
    svg << fmt::format("<polyline points='{}' fill='none' stroke='{}' stroke-width='2'{}/>\n", line, color, dash);
    // Legend, top left: the curve and its R(T).
    const double ly = y0 + 16 + 16 * static_cast<double>(i);
    const double C = c.curve.params.comm_cost;
    const std::string label = c.curve.params.algorithm == config::bandit_algorithm::ucb1 ? "no communication"
                              : C == 0 ? "C = 0 (without communication cost)"
                                       : fmt::format("C = {:g}", C);
    svg << fmt::format("<line x1='{0}' x2='{1}' y1='{2}' y2='{2}' stroke='{3}' stroke-width='2'{4}/>"
                       "<text x='{5}' y='{6}' font-size='11'>{7}: R(T) = {8:.0f} ± {9:.0f}</text>\n",
                       num(x0 + 8), num(x0 + 30), num(ly - 4), color, dash, num(x0 + 35), num(ly), label,
                       c.final_regret().mean(), c.final_regret().standard_error());
  }
}

} // namespace

void write_regret_svg(const std::string& path, const std::vector<curve_stats>& curves, const std::string& title,
                      bool log_t) {
  TROUPE_ENFORCE(!curves.empty(), "nothing to plot");
  // One panel per algorithm, in order of first appearance.
  std::vector<std::vector<const curve_stats*>> panels;
  std::vector<config::bandit_algorithm> order;
  for (const auto& c : curves) {
    const auto at = std::find(order.begin(), order.end(), c.curve.params.algorithm);
    if (at == order.end()) {
      order.push_back(c.curve.params.algorithm);
      panels.push_back({&c});
    } else {
      panels[static_cast<std::size_t>(at - order.begin())].push_back(&c);
    }
  }
  std::ofstream svg(path);
  if (!svg)
    throw error(fmt::format("cannot write the plot to {}", path));
  const double w = 420, h = 300, gap = 90, left = 80, top = 100;
  const double width = left + static_cast<double>(panels.size()) * (w + gap), height = top + h + 70;
  svg << fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif'>\n",
                     num(width), num(height));
  svg << "<rect width='100%' height='100%' fill='white'/>\n";
  svg << fmt::format("<text x='{}' y='28' text-anchor='middle' font-size='16'>{}</text>\n", num(width / 2), title);
  svg << fmt::format("<text x='{}' y='52' text-anchor='middle' font-size='12' fill='#444'>line: mean over the "
                     "seeds; band: ±1 standard error; dashed: the same runs with C = 0</text>\n",
                     num(width / 2));
  svg << fmt::format("<text x='18' y='{0}' font-size='13' transform='rotate(-90 18 {0})' text-anchor='middle'>"
                     "cumulative regret R(t)</text>\n",
                     num(top + h / 2));
  for (std::size_t i = 0; i < panels.size(); ++i)
    panel(svg, panels[i], log_t, left + static_cast<double>(i) * (w + gap), top, w, h);
  svg << "</svg>\n";
  if (!svg.flush())
    throw error(fmt::format("cannot write the plot to {}", path));
}

} // namespace troupe::bench
