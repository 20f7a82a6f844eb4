#include "config/yaml_override.hpp"

#include <cctype>
#include <charconv>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::config {

namespace {

constexpr const char* path_form = "names joined by '.', with [N] after a name for a sequence element, "
                                  "e.g. cluster.nodes[1].endpoint";

/// One step of a key path: a mapping key or a sequence index.
struct segment {
  std::string key; ///< empty for an index
  std::size_t index = 0;
};

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0)
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0)
    s.remove_suffix(1);
  return s;
}

/// The segments of `path`, or throws troupe::error "<context>: bad key path 'p': <why>; expected ...".
std::vector<segment> split_path(std::string_view path, const std::string& context) {
  const auto bad = [&](const std::string& why) {
    throw error(fmt::format("{}: bad key path '{}': {}; expected {}", context, path, why, path_form));
  };
  std::vector<segment> out;
  std::size_t i = 0;
  while (true) {
    const std::size_t start = i;
    while (i < path.size() && is_name_char(path[i]))
      ++i;
    if (i == start) {
      if (i == path.size())
        bad(out.empty() ? "the path is empty" : "it ends with '.'");
      bad(fmt::format("unexpected '{}' at position {}", path[i], i + 1));
    }
    out.push_back({std::string(path.substr(start, i - start)), 0});
    while (i < path.size() && path[i] == '[') {
      const std::size_t close = path.find(']', i);
      if (close == std::string_view::npos)
        bad(fmt::format("'[' at position {} is not closed", i + 1));
      const std::string_view digits = path.substr(i + 1, close - i - 1);
      std::size_t index = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
        bad(fmt::format("'[{}]' is not a sequence index (a non-negative integer)", digits));
      out.push_back({std::string(), index});
      i = close + 1;
    }
    if (i == path.size())
      return out;
    if (path[i] != '.')
      bad(fmt::format("unexpected '{}' at position {}", path[i], i + 1));
    ++i;
  }
}

/// "a.b[1].c" from its segments.
std::string join_path(const std::vector<segment>& segments, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (segments[i].key.empty())
      out += fmt::format("[{}]", segments[i].index);
    else
      out += (out.empty() ? "" : ".") + segments[i].key;
  }
  return out;
}

/// The override's value as a YAML node: a scalar (or null for an empty value), or a flow collection when it starts with
/// '[' or '{'.
YAML::Node parse_value(const std::string& value, const std::string& context) {
  YAML::Node node;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw error(fmt::format("{}: the value '{}' is not valid YAML: {}", context, value, e.msg));
  }
  const std::string_view text = trim(value);
  const bool flow = !text.empty() && (text.front() == '[' || text.front() == '{');
  if (!flow && !node.IsScalar() && !node.IsNull())
    throw error(fmt::format("{}: the value '{}' is not a single value; quote it (key='\"a: b\"') or write a "
                            "flow collection ([a, b] or {{k: v}})",
                            context, value));
  return node;
}

/// "a sequence (file.yaml:3:5)": what blocks an override's path, and where.
std::string describe_at(const YAML::Node& node, const std::string& source) {
  std::string what = node.IsSequence() ? "a sequence"
                     : node.IsMap()    ? "a mapping"
                     : node.IsScalar() ? "the value '" + node.Scalar() + "'"
                                       : "empty";
  if (!node.Mark().is_null())
    what += " at " + format_mark(source, node.Mark());
  return what;
}

void apply_one(YAML::Node& root, const override_kv& kv, const std::string& label, const std::string& source) {
  const std::vector<segment> segments = split_path(kv.path, label);
  const YAML::Node value = parse_value(kv.value, label);
  if (!root.IsDefined() || root.IsNull())
    root.reset(YAML::Node(YAML::NodeType::Map));

  // `cur` is rebound with reset(): assigning one yaml-cpp node to another would overwrite the tree.
  YAML::Node cur;
  cur.reset(root);
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const segment& seg = segments[i];
    const bool last = i + 1 == segments.size();
    const std::string here = join_path(segments, i);
    YAML::Node next;
    if (!seg.key.empty()) {
      if (cur.IsNull())
        cur = YAML::Node(YAML::NodeType::Map); // an empty value (`section:`) becomes a mapping in place
      if (!cur.IsMap())
        throw error(fmt::format("{}: {}: cannot set '{}' inside {}: it is {}, not a mapping", label, here, seg.key,
                                here, describe_at(cur, source)));
      if (last) {
        cur[seg.key] = value;
        return;
      }
      next.reset(cur[seg.key]);
      if (!next.IsDefined()) {
        if (segments[i + 1].key.empty())
          throw error(fmt::format("{}: {}: there is no sequence {} to take element [{}] of; an override can only "
                                  "replace existing elements",
                                  label, join_path(segments, i + 1), join_path(segments, i + 1),
                                  segments[i + 1].index));
        next = YAML::Node(YAML::NodeType::Map); // an absent section is created
      }
    } else {
      if (!cur.IsSequence())
        throw error(fmt::format("{}: {}: cannot take element [{}] of {}: it is {}, not a sequence", label, here,
                                seg.index, here, describe_at(cur, source)));
      if (seg.index >= cur.size())
        throw error(fmt::format("{}: {}[{}]: no such element; {} has {} element{}", label, here, seg.index, here,
                                cur.size(), cur.size() == 1 ? "" : "s"));
      if (last) {
        cur[seg.index] = value;
        return;
      }
      next.reset(cur[seg.index]);
    }
    cur.reset(next);
  }
}

} // namespace

override_kv parse_override(const std::string& arg) {
  const std::string context = "--set " + arg;
  const std::size_t eq = arg.find('=');
  if (eq == std::string::npos)
    throw error(fmt::format("{}: expected key.path=value, e.g. --set job.epochs=1", context));
  override_kv kv{std::string(trim(std::string_view(arg).substr(0, eq))), arg.substr(eq + 1)};
  if (kv.path.empty())
    throw error(
        fmt::format("{}: the key path before '=' is empty; expected key.path=value, e.g. --set job.epochs=1", context));
  const std::vector<segment> segments = split_path(kv.path, context);
  kv.path = join_path(segments, segments.size());
  parse_value(kv.value, context);
  return kv;
}

std::string override_label(const override_kv& kv) {
  return fmt::format("--set {}={}", kv.path, kv.value);
}

std::vector<value_origin> apply_overrides(YAML::Node& root, const std::vector<override_kv>& overrides,
                                          const std::string& source) {
  std::vector<value_origin> origins;
  origins.reserve(overrides.size());
  for (const auto& kv : overrides) {
    const std::string label = override_label(kv);
    apply_one(root, kv, label, source);
    const std::vector<segment> segments = split_path(kv.path, label);
    origins.push_back({join_path(segments, segments.size()), label});
  }
  return origins;
}

} // namespace troupe::config
