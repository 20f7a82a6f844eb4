// yaml_cursor's typed scalar reads: integers and floating-point numbers within bounds, booleans, strings.
#include "config/yaml_util.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

#include <fmt/format.h>

namespace troupe::config {

namespace {

std::string format_integer(long double v) {
  return v < 0 ? fmt::format("{}", static_cast<long long>(v)) : fmt::format("{}", static_cast<unsigned long long>(v));
}

/// "a positive integer", "an integer in [2, 8]", ... for integer limits already clipped to the type's.
std::string describe_integer(long double lo, long double hi, long double type_min, long double type_max) {
  // An unsigned type's 0 is worth saying ("non-negative"); a signed type's minimum is not.
  const bool has_lo = lo > type_min || type_min == 0;
  const bool has_hi = hi < type_max;
  if (has_lo && has_hi)
    return fmt::format("an integer in [{}, {}]", format_integer(lo), format_integer(hi));
  if (has_lo) {
    if (lo == 1)
      return "a positive integer";
    if (lo == 0)
      return "a non-negative integer";
    return fmt::format("an integer >= {}", format_integer(lo));
  }
  if (has_hi)
    return fmt::format("an integer <= {}", format_integer(hi));
  return "an integer";
}

/// "a positive number", "a number in [0, 1)", ...
std::string describe_number(const bounds& b) {
  const bool has_lo = b.lo > -bounds::inf;
  const bool has_hi = b.hi < bounds::inf;
  if (has_lo && has_hi)
    return fmt::format("a number in {}{}, {}{}", b.lo_open ? '(' : '[', b.lo, b.hi, b.hi_open ? ')' : ']');
  if (has_lo) {
    if (b.lo == 0)
      return b.lo_open ? "a positive number" : "a non-negative number";
    return fmt::format("a number {} {}", b.lo_open ? ">" : ">=", b.lo);
  }
  if (has_hi)
    return fmt::format("a number {} {}", b.hi_open ? "<" : "<=", b.hi);
  return "a number";
}

} // namespace

template <class Int>
Int yaml_cursor::read_integer(const bounds& range) const {
  using limits = std::numeric_limits<Int>;
  // long double holds every 64-bit integer exactly on x86-64, so comparisons below are exact.
  const long double type_min = limits::min(), type_max = limits::max();
  long double lo = type_min, hi = type_max;
  if (range.lo > -bounds::inf)
    lo = std::max(lo, range.lo_open ? std::floor(static_cast<long double>(range.lo)) + 1
                                    : std::ceil(static_cast<long double>(range.lo)));
  if (range.hi < bounds::inf)
    hi = std::min(hi, range.hi_open ? std::ceil(static_cast<long double>(range.hi)) - 1
                                    : std::floor(static_cast<long double>(range.hi)));
  const std::string expected = describe_integer(lo, hi, type_min, type_max);
  if (!node_.IsScalar())
    fail(fmt::format("expected {}, got {}", expected, describe_node(node_)));

  const std::string& text = node_.Scalar();
  std::string_view digits = text;
  bool negative = false;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
    negative = digits.front() == '-';
    digits.remove_prefix(1);
  }
  unsigned long long magnitude = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
  if (digits.empty() || end != digits.data() + digits.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range))
    fail(fmt::format("expected {}, got {}", expected, quote_value(text)));

  const bool overflow = ec == std::errc::result_out_of_range;
  const long double value = negative ? -static_cast<long double>(magnitude) : static_cast<long double>(magnitude);
  if (overflow || value < lo || value > hi) {
    // Name the type's own limit only where the description is silent about that side.
    std::string note;
    if ((overflow && !negative) || value > type_max) {
      if (hi == type_max)
        note = fmt::format(" (at most {})", format_integer(type_max));
    } else if ((overflow || value < type_min) && lo == type_min && type_min != 0) {
      note = fmt::format(" (at least {})", format_integer(type_min));
    }
    fail(fmt::format("expected {}, got {}{}", expected, quote_value(text), note));
  }
  return static_cast<Int>(value);
}

double yaml_cursor::read_floating(const bounds& range, bool single) const {
  const std::string expected = describe_number(range);
  if (!node_.IsScalar())
    fail(fmt::format("expected {}, got {}", expected, describe_node(node_)));
  const std::string& text = node_.Scalar();
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+')
    digits.remove_prefix(1);
  double value = 0;
  const auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), value, std::chars_format::general);
  // Out-of-range, infinities and NaN (YAML's .inf/.nan) are never a sensible setting.
  if (digits.empty() || end != digits.data() + digits.size() || ec != std::errc() || !std::isfinite(value) ||
      (single && std::fabs(value) > std::numeric_limits<float>::max()))
    fail(fmt::format("expected {}, got {}", expected, quote_value(text)));
  // Check the value as stored: 0.99999999 is 1.0f and must not pass as "< 1".
  if (single)
    value = static_cast<float>(value);
  const bool above_lo = range.lo_open ? value > range.lo : value >= range.lo;
  const bool below_hi = range.hi_open ? value < range.hi : value <= range.hi;
  if (!above_lo || !below_hi)
    fail(fmt::format("expected {}, got {}", expected, quote_value(text)));
  return value;
}

void yaml_cursor::read(int& out, const bounds& range) const {
  out = read_integer<int>(range);
}
void yaml_cursor::read(long& out, const bounds& range) const {
  out = read_integer<long>(range);
}
void yaml_cursor::read(long long& out, const bounds& range) const {
  out = read_integer<long long>(range);
}
void yaml_cursor::read(unsigned& out, const bounds& range) const {
  out = read_integer<unsigned>(range);
}
void yaml_cursor::read(unsigned long& out, const bounds& range) const {
  out = read_integer<unsigned long>(range);
}
void yaml_cursor::read(unsigned long long& out, const bounds& range) const {
  out = read_integer<unsigned long long>(range);
}
void yaml_cursor::read(float& out, const bounds& range) const {
  out = static_cast<float>(read_floating(range, true));
}
void yaml_cursor::read(double& out, const bounds& range) const {
  out = read_floating(range, false);
}

void yaml_cursor::read(bool& out, const bounds&) const {
  // yaml-cpp's YAML 1.1 words: true/false, yes/no, on/off, y/n in lower, Title or UPPER case.
  if (!node_.IsScalar() || !YAML::convert<bool>::decode(node_, out))
    fail("expected a boolean (true or false), got " + describe_node(node_));
}

void yaml_cursor::read(std::string& out, const bounds&) const {
  if (!node_.IsScalar())
    fail("expected a string, got " + describe_node(node_));
  out = node_.Scalar();
}

} // namespace troupe::config
