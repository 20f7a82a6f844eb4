#pragma once
/// The sweep's plot: regret over time, averaged over seeds, as a standalone SVG.

#include <string>
#include <vector>

#include "bandit/sweep.hpp"

namespace troupe::bench {

/// Writes R(t) of `curves` to `path`: one panel per algorithm in order of appearance, each curve's mean
/// over the seeds as a line with a ±1 standard error band, a curve with C = 0 dashed; t on a linear
/// axis (as in the paper) or, with `log_t`, a log one. Throws troupe::error when the file cannot be written.
void write_regret_svg(const std::string& path, const std::vector<bandit::curve_stats>& curves, const std::string& title,
                      bool log_t);

} // namespace troupe::bench
