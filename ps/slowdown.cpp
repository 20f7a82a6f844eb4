#include "ps/slowdown.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::ps {

namespace {

/// splitmix64's finalizer: a well-mixed 64-bit hash of x.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

} // namespace

bool transient_hit(const transient_slowdown& t, std::size_t rank, std::uint64_t clock) {
  if (t.fraction <= 0)
    return false;
  const std::uint64_t h = mix(mix(mix(t.seed) ^ static_cast<std::uint64_t>(rank)) ^ clock);
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53; // the top 53 bits: uniform in [0, 1)
  return u < t.fraction;
}

double slowdown::factor_at(std::size_t rank, std::uint64_t clock) const {
  return factor * (transient_hit(transient, rank, clock) ? transient.factor : 1.0);
}

transient_slowdown parse_transient_slowdown(const std::string& text) {
  const auto bad = [&] {
    return error(fmt::format("--transient-slow {}: expected FRACTION=FACTOR with 0 < FRACTION <= 1 and FACTOR >= 1, "
                             "e.g. 0.1=5 (10 % of the steps 5x slower)",
                             text));
  };
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw bad();
  transient_slowdown t;
  const char* end = text.data() + text.size();
  const auto f = std::from_chars(text.data(), text.data() + eq, t.fraction);
  const auto x = std::from_chars(text.data() + eq + 1, end, t.factor);
  if (f.ec != std::errc() || f.ptr != text.data() + eq || x.ec != std::errc() || x.ptr != end)
    throw bad();
  if (!(t.fraction > 0 && t.fraction <= 1) || !(t.factor >= 1) || !std::isfinite(t.factor))
    throw bad();
  return t;
}

} // namespace troupe::ps
