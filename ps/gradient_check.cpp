#include "ps/gradient_check.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace troupe::ps {

std::size_t count_nonfinite(const float* g, std::size_t n) {
  constexpr std::uint32_t exponent = 0x7f800000u;
  std::size_t bad = 0;
  // Blocks keep the per-lane counters 32-bit (vectorizes to plain integer adds) without overflow.
  constexpr std::size_t block = std::size_t{1} << 24;
  for (std::size_t start = 0; start < n; start += block) {
    const std::size_t end = start + block < n ? start + block : n;
    std::uint32_t count = 0;
    for (std::size_t i = start; i < end; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, g + i, sizeof bits);
      count += (bits & exponent) == exponent ? 1u : 0u;
    }
    bad += count;
  }
  return bad;
}

nonfinite_report describe_nonfinite(const float* g, const nn::param_layout& layout) {
  nonfinite_report r;
  for (const auto& e : layout.entries) {
    nonfinite_param p{e.name, 0, 0};
    for (std::size_t i = e.offset; i < e.offset + e.size; ++i) {
      if (std::isnan(g[i]))
        ++p.nan;
      else if (std::isinf(g[i]))
        ++p.inf;
    }
    if (p.nan + p.inf == 0)
      continue;
    r.nan += p.nan;
    r.inf += p.inf;
    r.params.push_back(std::move(p));
  }
  return r;
}

namespace {

std::string counts(std::size_t nan, std::size_t inf) {
  if (nan == 0 && inf == 0)
    return "no NaN or Inf";
  if (nan > 0 && inf > 0)
    return fmt::format("{} NaN, {} Inf", nan, inf);
  return nan > 0 ? fmt::format("{} NaN", nan) : fmt::format("{} Inf", inf);
}

} // namespace

std::string to_string(const nonfinite_report& r) {
  std::string where;
  for (const auto& p : r.params)
    where += fmt::format("{}{} ({})", where.empty() ? "" : ", ", p.name, counts(p.nan, p.inf));
  return fmt::format("{} in {}", counts(r.nan, r.inf), where.empty() ? std::string("no parameter") : where);
}

} // namespace troupe::ps
