#include "config/yaml_util.hpp"

#include <cerrno>
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

std::string quote_value(const std::string& s) {
  constexpr std::size_t max_len = 40;
  return "'" + (s.size() <= max_len ? s : s.substr(0, max_len - 3) + "...") + "'";
}

std::string describe_node(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Scalar:
    return quote_value(node.Scalar());
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

namespace {

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
  const std::string site = cite(mark, path);
  // An error cited in the file about a part that overrides changed (say, no node left with some
  // role) names those overrides too.
  std::string changed;
  if (origins_ && site == format_mark(source_, mark))
    for (const auto& o : *origins_)
      if (o.path != path && is_within(o.path, path))
        changed += (changed.empty() ? " (after " : ", ") + o.label;
  if (!changed.empty())
    changed += ")";
  throw error(fmt::format("{}: {}{}{}", site, path.empty() ? "" : path + ": ", problem, changed));
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
    fail("expected a mapping (key: value), got " + describe_node(node_));
}

void yaml_cursor::expect_sequence() const {
  if (!node_.IsSequence())
    fail("expected a sequence, got " + describe_node(node_));
}

void yaml_cursor::expect_scalar() const {
  if (!node_.IsScalar())
    fail("expected a single value, got " + describe_node(node_));
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
      raise(it->first.Mark(), path_, "keys must be plain names, got " + describe_node(it->first));
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
      raise(mark, path_, "keys must be plain names, got " + describe_node(it->first));
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
            allowed.empty()
                ? fmt::format("unknown key '{}'; this mapping takes no keys", key)
                : fmt::format("unknown key '{}'{}; allowed keys: {}", key, suggestion(key, allowed), join(allowed)));
  }
}

std::string yaml_cursor::as_choice(const std::vector<std::string>& allowed, std::string_view what) const {
  if (!node_.IsScalar())
    fail(fmt::format("expected a {} (one of: {}), got {}", what, join(allowed), describe_node(node_)));
  const std::string& value = node_.Scalar();
  for (const auto& a : allowed)
    if (a == value)
      return value;
  fail(fmt::format("unknown {} {}{}; expected one of: {}", what, quote_value(value), suggestion(value, allowed),
                   join(allowed)));
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
