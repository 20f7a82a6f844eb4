#pragma once
/// Inline SVG charts for the HTML report: line plots with vertical event markers, and bar charts.
/// Plain strings, no scripts, no external resources.

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace troupe::observe {

/// One line of a plot; points with a NaN y are skipped (a gap).
struct series {
  std::string name;
  std::vector<std::pair<double, double>> points;
  std::string color;    ///< CSS colour; palette(i) when empty
  bool markers = false; ///< a dot at every point
  bool dashed = false;
  double width = 1.6;
};

/// A vertical dashed red line across the plot at x (e.g. a restart), labelled at the top; the
/// legend gets a "restart" entry.
struct x_marker {
  double x = 0;
  std::string label;
};

struct line_plot {
  std::string title, x_label, y_label;
  std::vector<series> lines;
  std::vector<x_marker> markers;
};

struct bar {
  std::string label;
  double value = 0;
};

struct bar_chart {
  std::string title, x_label, y_label;
  std::vector<bar> bars;
};

/// The n-th colour of a palette that stays distinguishable for the first 10 (palette(9) is the
/// markers' red).
std::string palette(std::size_t n);

/// Escapes &, <, >, " and ' for HTML/SVG text and attributes.
std::string html_escape(const std::string& text);

/// About `target` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

/// An <svg> element of width x height pixels; "no data" inside the frame when nothing is plotted.
std::string render_svg(const line_plot& plot, int width = 560, int height = 320);
std::string render_svg(const bar_chart& chart, int width = 560, int height = 320);

} // namespace troupe::observe
