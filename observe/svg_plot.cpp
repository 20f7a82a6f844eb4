#include "observe/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace troupe::observe {

namespace {

constexpr int left = 64, right = 18, bottom = 46;
const char* const marker_color = "#d62728";

struct frame {
  int width, height, top;
  double x0, x1, y0, y1;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * (width - left - right); }
  double py(double y) const { return height - bottom - (y - y0) / (y1 - y0) * (height - bottom - top); }
};

/// Widens a degenerate or empty range so that it can be scaled.
void widen(double& lo, double& hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0;
    hi = 1;
  } else if (hi - lo < 1e-12) {
    const double pad = std::max(std::abs(lo) * 0.1, 1.0);
    lo -= pad;
    hi += pad;
  }
}

std::string tick_label(double v, double step) {
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  if (std::abs(v) < step * 1e-6)
    v = 0;
  return fmt::format("{:.{}f}", v, decimals);
}

struct legend_entry {
  std::string name, color;
  bool dashed;
};

/// Title, axis labels, legend (may wrap to more lines: returns the plot area's top) and the frame.
int header(std::string& out, int width, int height, const std::string& title, const std::string& x_label,
           const std::string& y_label, const std::vector<legend_entry>& legend) {
  out += fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
                     "class=\"plot\" role=\"img\" aria-label=\"{2}\">\n<title>{2}</title>\n"
                     "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>\n"
                     "<text x=\"{3}\" y=\"20\" class=\"plot-title\" font-size=\"15\" font-weight=\"bold\">{2}</text>\n",
                     width, height, html_escape(title), left);
  int x = left, y = 38;
  for (const auto& [name, color, dashed] : legend) {
    const int w = 26 + 7 * static_cast<int>(name.size()) + 14;
    if (x + w > width - right && x > left) {
      x = left;
      y += 16;
    }
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{}/>"
                       "<text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>\n",
                       x, y - 4, x + 20, y - 4, color, dashed ? 2.0 : 3.0, dashed ? " stroke-dasharray=\"4 3\"" : "",
                       x + 25, y, html_escape(name));
    x += w;
  }
  const int top = legend.empty() ? 34 : y + 12;
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n",
                     (left + width - right) / 2, height - 8, html_escape(x_label));
  out += fmt::format("<text x=\"14\" y=\"{0}\" font-size=\"12\" text-anchor=\"middle\" "
                     "transform=\"rotate(-90 14 {0})\">{1}</text>\n",
                     (top + height - bottom) / 2, html_escape(y_label));
  return top;
}

void axes(std::string& out, const frame& f, bool x_ticks) {
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n", left,
                     f.top, f.width - left - right, f.height - bottom - f.top);
  const auto yt = nice_ticks(f.y0, f.y1);
  const double ys = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double v : yt)
    out += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#e4e4e4\"/>"
                       "<text x=\"{3}\" y=\"{4:.1f}\" font-size=\"11\" text-anchor=\"end\">{5}</text>\n",
                       left, f.py(v), f.width - right, left - 5, f.py(v) + 4, tick_label(v, ys));
  if (!x_ticks)
    return;
  const auto xt = nice_ticks(f.x0, f.x1, 6);
  const double xs = xt.size() > 1 ? xt[1] - xt[0] : 1;
  for (double v : xt)
    out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e4e4e4\"/>"
                       "<text x=\"{0:.1f}\" y=\"{3}\" font-size=\"11\" text-anchor=\"middle\">{4}</text>\n",
                       f.px(v), f.top, f.height - bottom, f.height - bottom + 15, tick_label(v, xs));
}

std::string no_data(const frame& f) {
  return fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"14\" fill=\"#999\" text-anchor=\"middle\">no data</text>\n",
                     (left + f.width - right) / 2, (f.top + f.height - bottom) / 2);
}

} // namespace

std::string palette(std::size_t n) {
  static const char* const colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
                                       "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#d62728"};
  return colors[n % (sizeof(colors) / sizeof(colors[0]))];
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  widen(lo, hi);
  const double raw = (hi - lo) / std::max(target, 1);
  const int exponent = static_cast<int>(std::floor(std::log10(raw)));
  const double power = std::pow(10.0, exponent);
  double mantissa = 10;
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * power) {
      mantissa = m;
      break;
    }
  const double step = mantissa * power;
  // k * mantissa / 10^-e is the double nearest to the decimal tick (0.6, not 0.6000000000000001).
  const auto tick = [&](double k) {
    return exponent < 0 ? k * mantissa / std::pow(10.0, -exponent) : k * mantissa * power;
  };
  std::vector<double> ticks;
  for (double k = std::ceil(lo / step - 1e-9); tick(k) <= hi + step * 1e-9; k += 1)
    ticks.push_back(tick(k));
  return ticks;
}

std::string render_svg(const line_plot& plot, int width, int height) {
  std::vector<legend_entry> legend;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (std::size_t i = 0; i < plot.lines.size(); ++i) {
    const auto& s = plot.lines[i];
    legend.push_back({s.name, s.color.empty() ? palette(i) : s.color, s.dashed});
    for (const auto& [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y)) {
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  }
  const bool empty = !std::isfinite(y0);
  for (const auto& m : plot.markers)
    x0 = std::min(x0, m.x), x1 = std::max(x1, m.x);
  if (!plot.markers.empty())
    legend.push_back({"restart", marker_color, true});
  widen(x0, x1);
  widen(y0, y1);
  const double pad = (y1 - y0) * 0.05;
  std::string out;
  frame f{width, height, 0, x0, x1, y0 - pad, y1 + pad};
  f.top = header(out, width, height, plot.title, plot.x_label, plot.y_label, legend);
  axes(out, f, true);
  if (empty)
    out += no_data(f);
  for (std::size_t i = 0; i < plot.lines.size(); ++i) {
    const auto& s = plot.lines[i];
    const auto color = s.color.empty() ? palette(i) : s.color;
    std::string path;
    bool pen_down = false;
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) {
        pen_down = false;
        continue;
      }
      path += fmt::format("{}{:.1f},{:.1f} ", pen_down ? "L" : "M", f.px(x), f.py(y));
      pen_down = true;
      if (s.markers)
        out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", f.px(x), f.py(y), color);
    }
    if (!path.empty())
      out += fmt::format("<path class=\"series\" data-name=\"{}\" d=\"{}\" fill=\"none\" stroke=\"{}\" "
                         "stroke-width=\"{}\"{}/>\n",
                         html_escape(s.name), path, color, s.width, s.dashed ? " stroke-dasharray=\"6 4\"" : "");
  }
  for (const auto& m : plot.markers) {
    // The label goes right of the line, or left of it in the right quarter so it is not clipped.
    const bool flip = f.px(m.x) > left + 0.75 * (width - left - right);
    out += fmt::format("<line class=\"restart-marker\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" "
                       "stroke=\"{6}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>"
                       "<text x=\"{3:.1f}\" y=\"{4}\" font-size=\"10\" fill=\"{6}\"{7}>{5}</text>\n",
                       f.px(m.x), f.top, f.height - bottom, f.px(m.x) + (flip ? -3 : 3), f.top + 11,
                       html_escape(m.label), marker_color, flip ? " text-anchor=\"end\"" : "");
  }
  return out + "</svg>\n";
}

std::string render_svg(const bar_chart& chart, int width, int height) {
  std::string out;
  double y1 = 0;
  for (const auto& b : chart.bars)
    y1 = std::max(y1, b.value);
  frame f{width, height, 0, 0, 1, 0, y1 > 0 ? y1 * 1.08 : 1};
  f.top = header(out, width, height, chart.title, chart.x_label, chart.y_label, {});
  axes(out, f, false);
  if (chart.bars.empty())
    out += no_data(f);
  const double slot = static_cast<double>(width - left - right) / std::max<std::size_t>(chart.bars.size(), 1);
  // Label every k-th bar so that the labels do not overlap.
  const std::size_t every = static_cast<std::size_t>(std::ceil(28.0 / slot));
  for (std::size_t i = 0; i < chart.bars.size(); ++i) {
    const auto& b = chart.bars[i];
    const double x = left + slot * static_cast<double>(i);
    out += fmt::format("<rect class=\"bar\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\">"
                       "<title>{}: {}</title></rect>\n",
                       x + slot * 0.1, f.py(b.value), slot * 0.8, f.py(0) - f.py(b.value), palette(0),
                       html_escape(b.label), b.value);
    if (i % every == 0)
      out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n",
                         x + slot / 2, height - bottom + 15, html_escape(b.label));
    if (slot >= 28) // the count above the bar while it fits
      out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444\">{}"
                         "</text>\n",
                         x + slot / 2, f.py(b.value) - 3, b.value);
  }
  return out + "</svg>\n";
}

} // namespace troupe::observe
