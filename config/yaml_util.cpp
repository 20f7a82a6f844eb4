#include "config/yaml_util.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "common/error.hpp"
#include "config/closest_match.hpp"

namespace troupe::config {

namespace {

/// Quotes a scalar for an error message, shortening long ones.
std::string quote(const std::string& s) {
  constexpr std::size_t max_len = 40;
  return "'" + (s.size() <= max_len ? s : s.substr(0, max_len - 3) + "...") + "'";
}

/// What a node holds, worded for "expected X, got <this>".
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Scalar:
    return quote(node.Scalar());
  case YAML::NodeType::Sequence:
    return "a sequence";
  case YAML::NodeType::Map:
    return "a mapping";
  case YAML::NodeType::Null:
    return "null (an empty value)";
  case YAML::NodeType::Undefined:
    break;
  }
  return "nothing";
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words)
    out += (out.empty() ? "" : ", ") + w;
  return out;
}

/// " (did you mean 'x'?)" or "".
std::string suggestion(const std::string& word, const std::vector<std::string>& candidates) {
  auto best = closest_match(word, candidates);
  return best ? fmt::format(" (did you mean '{}'?)", *best) : std::string();
}

std::string format_integer(long double v) {
  return v < 0 ? fmt::format("{}", static_cast<long long>(v))
               : fmt::format("{}", static_cast<unsigned long long>(v));
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

/// Whether key path `path` is `ancestor` or lies below it ("a.b[1]" is below "a.b" and "a", not below "a.bc").
bool is_within(const std::string& path, const std::string& ancestor) {
  if (path.compare(0, ancestor.size(), ancestor) != 0)
    return false;
  return path.size() == ancestor.size() || path[ancestor.size()] == '.' || path[ancestor.size()] == '[';
}

/// How many leading key-path segments ("a", ".b", "[1]") `a` and `b` share.
std::size_t shared_segments(const std::string& a, const std::string& b) {
  std::size_t count = 0;
  for (std::size_t i = 0;; ++i) {
    const bool a_ends = i == a.size() || a[i] == '.' || a[i] == '[';
    const bool b_ends = i == b.size() || b[i] == '.' || b[i] == '[';
    if (i > 0 && a_ends && b_ends)
      ++count;
    if (i == a.size() || i == b.size() || a[i] != b[i])
      return count;
  }
}

} // namespace

std::string format_mark(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null())
    return fmt::format("{}:1:1", source);
  return fmt::format("{}:{}:{}", source, mark.line + 1, mark.column + 1);
}

std::string yaml_cursor::cite(const YAML::Mark& mark, const std::string& path) const {
  if (origins_) {
    const value_origin* best = nullptr;
    // Later overrides win over earlier ones on the same path, as they were applied later.
    for (const auto& o : *origins_)
      if (is_within(path, o.path) && (best == nullptr || o.path.size() >= best->path.size()))
        best = &o;
    // A node without a position was made by an override: blame the one nearest to it.
    if (best == nullptr && mark.is_null()) {
      std::size_t best_shared = 0;
      for (const auto& o : *origins_)
        if (const std::size_t n = shared_segments(path, o.path); n > 0 && n >= best_shared) {
          best = &o;
          best_shared = n;
        }
    }
    if (best != nullptr)
      return best->label;
  }
  return format_mark(source_, mark);
}

void yaml_cursor::raise(const YAML::Mark& mark, const std::string& path, std::string_view problem) const {
  throw error(fmt::format("{}: {}{}", cite(mark, path), path.empty() ? "" : path + ": ", problem));
}

yaml_cursor yaml_cursor::with_origins(std::vector<value_origin> origins) const {
  yaml_cursor out = *this;
  out.origins_ = std::make_shared<const std::vector<value_origin>>(std::move(origins));
  return out;
}

const value_origin* yaml_cursor::origin() const {
  const value_origin* best = nullptr;
  if (origins_)
    for (const auto& o : *origins_)
      if (is_within(path_, o.path) && (best == nullptr || o.path.size() >= best->path.size()))
        best = &o;
  return best;
}

yaml_cursor::yaml_cursor(YAML::Node node, std::string source, std::string path, YAML::Mark fallback)
    : node_(std::move(node)), source_(std::move(source)), path_(std::move(path)), mark_(fallback) {
  // yaml-cpp gives an empty value the position of the *next* token (often the next line):
  // the caller's fallback (the key's position) is the better place to point at.
  if (node_.IsDefined() && !node_.IsNull() && !node_.Mark().is_null())
    mark_ = node_.Mark();
}

std::string yaml_cursor::where() const {
  return cite(mark_, path_);
}

void yaml_cursor::fail(std::string_view problem) const {
  raise(mark_, path_, problem);
}

void yaml_cursor::expect_map() const {
  if (!node_.IsMap() && !node_.IsNull())
    fail("expected a mapping (key: value), got " + describe(node_));
}

void yaml_cursor::expect_sequence() const {
  if (!node_.IsSequence())
    fail("expected a sequence, got " + describe(node_));
}

void yaml_cursor::expect_scalar() const {
  if (!node_.IsScalar())
    fail("expected a single value, got " + describe(node_));
}

std::string yaml_cursor::child_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

std::optional<yaml_cursor> yaml_cursor::lookup(const std::string& key) const {
  expect_map();
  if (node_.IsNull())
    return std::nullopt;
  // A linear scan (not node_[key]) so the key's own position is at hand for an empty value.
  for (auto it = node_.begin(); it != node_.end(); ++it)
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      yaml_cursor out(it->second, source_, child_path(key), it->first.Mark());
      out.origins_ = origins_;
      return out;
    }
  return std::nullopt;
}

bool yaml_cursor::has(const std::string& key) const {
  return lookup(key).has_value();
}

yaml_cursor yaml_cursor::child(const std::string& key) const {
  if (auto c = lookup(key))
    return *c;
  raise(mark_, child_path(key), fmt::format("missing required key '{}'", key));
}

std::optional<yaml_cursor> yaml_cursor::find(const std::string& key) const {
  return lookup(key);
}

std::vector<std::string> yaml_cursor::keys() const {
  expect_map();
  std::vector<std::string> out;
  if (node_.IsNull())
    return out;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar())
      raise(it->first.Mark(), path_, "keys must be plain names, got " + describe(it->first));
    out.push_back(it->first.Scalar());
  }
  return out;
}

std::vector<yaml_cursor> yaml_cursor::items() const {
  expect_sequence();
  std::vector<yaml_cursor> out;
  out.reserve(node_.size());
  std::size_t i = 0;
  for (const auto& item : node_) {
    out.emplace_back(item, source_, fmt::format("{}[{}]", path_, i++), mark_);
    out.back().origins_ = origins_;
  }
  return out;
}

void yaml_cursor::check_keys(const std::vector<std::string>& allowed) const {
  expect_map();
  if (node_.IsNull())
    return;
  std::map<std::string, YAML::Mark> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const YAML::Mark mark = it->first.Mark();
    if (!it->first.IsScalar())
      raise(mark, path_, "keys must be plain names, got " + describe(it->first));
    const std::string& key = it->first.Scalar();
    if (auto [first, inserted] = seen.emplace(key, mark); !inserted)
      raise(mark, child_path(key),
               fmt::format("duplicate key '{}' (first given at line {}, column {})", key, first->second.line + 1,
                           first->second.column + 1));
    bool known = false;
    for (const auto& a : allowed)
      known = known || a == key;
    if (!known)
      raise(mark, child_path(key),
               allowed.empty() ? fmt::format("unknown key '{}'; this mapping takes no keys", key)
                               : fmt::format("unknown key '{}'{}; allowed keys: {}", key, suggestion(key, allowed),
                                             join(allowed)));
  }
}

std::string yaml_cursor::as_choice(const std::vector<std::string>& allowed, std::string_view what) const {
  if (!node_.IsScalar())
    fail(fmt::format("expected a {} (one of: {}), got {}", what, join(allowed), describe(node_)));
  const std::string& value = node_.Scalar();
  for (const auto& a : allowed)
    if (a == value)
      return value;
  fail(fmt::format("unknown {} {}{}; expected one of: {}", what, quote(value), suggestion(value, allowed),
                   join(allowed)));
}

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
    fail(fmt::format("expected {}, got {}", expected, describe(node_)));

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
    fail(fmt::format("expected {}, got {}", expected, quote(text)));

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
    fail(fmt::format("expected {}, got {}{}", expected, quote(text), note));
  }
  return static_cast<Int>(value);
}

double yaml_cursor::read_floating(const bounds& range, bool single) const {
  const std::string expected = describe_number(range);
  if (!node_.IsScalar())
    fail(fmt::format("expected {}, got {}", expected, describe(node_)));
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
    fail(fmt::format("expected {}, got {}", expected, quote(text)));
  // Check the value as stored: 0.99999999 is 1.0f and must not pass as "< 1".
  if (single)
    value = static_cast<float>(value);
  const bool above_lo = range.lo_open ? value > range.lo : value >= range.lo;
  const bool below_hi = range.hi_open ? value < range.hi : value <= range.hi;
  if (!above_lo || !below_hi)
    fail(fmt::format("expected {}, got {}", expected, quote(text)));
  return value;
}

void yaml_cursor::read(int& out, const bounds& range) const { out = read_integer<int>(range); }
void yaml_cursor::read(long& out, const bounds& range) const { out = read_integer<long>(range); }
void yaml_cursor::read(long long& out, const bounds& range) const { out = read_integer<long long>(range); }
void yaml_cursor::read(unsigned& out, const bounds& range) const { out = read_integer<unsigned>(range); }
void yaml_cursor::read(unsigned long& out, const bounds& range) const { out = read_integer<unsigned long>(range); }
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
    fail("expected a boolean (true or false), got " + describe(node_));
}

void yaml_cursor::read(std::string& out, const bounds&) const {
  if (!node_.IsScalar())
    fail("expected a string, got " + describe(node_));
  out = node_.Scalar();
}

yaml_cursor parse_yaml(const std::string& text, const std::string& source_name) {
  try {
    return yaml_cursor(YAML::Load(text), source_name);
  } catch (const YAML::Exception& e) {
    throw error(fmt::format("{}: YAML syntax error: {}", format_mark(source_name, e.mark), e.msg));
  }
}

yaml_cursor load_yaml_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw error(fmt::format("{}: cannot read: is a directory", path));
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad())
    throw error(fmt::format("{}: read error: {}", path, std::strerror(errno)));
  return parse_yaml(text, path);
}

} // namespace troupe::config
