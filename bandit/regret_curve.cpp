#include "bandit/regret_curve.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"

namespace troupe::bandit {

std::vector<std::uint64_t> sample_times(std::uint64_t T, std::size_t n) {
  TROUPE_ENFORCE(T >= 1 && n >= 2, "sample_times needs T >= 1 and n >= 2, got T = {} and n = {}", T, n);
  const double top = static_cast<double>(T), decades = std::log10(top);
  const std::size_t log_n = (n + 1) / 2, lin_n = n - log_n;
  std::vector<std::uint64_t> out;
  out.reserve(n + 1);
  // t = 10^(j/per): at most log_n times from 1 to T; with a whole number of them per decade every power
  // of 10 is among them (j/per is exact for j = k·per).
  const double room = static_cast<double>(log_n - 1) / std::max(decades, 1e-9);
  const double per = room >= 1 ? std::floor(room) : room;
  out.push_back(1);
  for (double j = 1; per > 0 && j <= decades * per + 1e-9; ++j)
    out.push_back(static_cast<std::uint64_t>(std::llround(std::pow(10.0, j / per))));
  for (std::size_t i = 1; i <= lin_n; ++i) // t = i·T/lin_n: T/lin_n … T
    out.push_back(static_cast<std::uint64_t>(std::llround(top * static_cast<double>(i) / static_cast<double>(lin_n))));
  for (auto& t : out)
    t = std::clamp<std::uint64_t>(t, 1, T);
  out.push_back(T);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

} // namespace troupe::bandit
