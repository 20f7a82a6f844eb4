#pragma once
/// Reading any Troupe YAML file: every error is a troupe::error starting "file:line:column: key.path: ".

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace troupe::config {

/// Limits a number read from YAML must satisfy; errors word them ("a positive integer", "a number in [0, 1)").
struct bounds {
  static constexpr double inf = std::numeric_limits<double>::infinity();

  double lo = -inf;
  double hi = inf;
  bool lo_open = false; ///< true: value > lo, false: value >= lo.
  bool hi_open = false; ///< true: value < hi, false: value <= hi.

  /// Whatever the target type can hold.
  static bounds any() { return {}; }
  /// value > 0 (for integers: value >= 1).
  static bounds positive() { return {0.0, inf, true, false}; }
  /// value >= lo.
  static bounds at_least(double lo) { return {lo, inf, false, false}; }
  /// lo <= value <= hi.
  static bounds closed(double lo, double hi) { return {lo, hi, false, false}; }
  /// lo <= value < hi.
  static bounds half_open(double lo, double hi) { return {lo, hi, false, true}; }
};

/// A part of the document that did not come from the file (a `--set` on the command line).
///
/// Errors at `path` or below it cite `label` instead of a file position; so do errors at nodes
/// without a position (mappings an override created), citing the origin whose path shares the most
/// leading segments with the error's path. An error still cited in the file about a part that
/// contains overridden values ends with " (after <label>, ...)".
struct value_origin {
  std::string path;  ///< Key path as cursors spell it: "cluster.nodes[1].endpoint".
  std::string label; ///< What errors cite instead of "file:line:column": "--set cluster.nodes[1].endpoint=tcp://h:1".
};

/// A scalar quoted for an error message ('text'), shortened when long.
std::string quote_value(const std::string& s);

/// What a node holds, worded for "expected X, got <this>": a quoted scalar, "a sequence", "a mapping", "null (an empty
/// value)".
std::string describe_node(const YAML::Node& node);

/// "file:line:column", printing yaml-cpp's 0-based mark 1-based (a null mark prints as 1:1).
std::string format_mark(const std::string& source, const YAML::Mark& mark);

/// A YAML node plus the file it came from and its key path ("layers[3].conv2d.kernel"), so every error can say where.
///
/// An empty value (`key:` with nothing after it) counts as an empty mapping for the mapping accessors,
/// so `conv2d:` reports "missing required key" rather than "expected a mapping".
class yaml_cursor {
public:
  /// A cursor at `node`, cited as `source`; `fallback` is the mark used when the node has none of its own.
  yaml_cursor(YAML::Node node, std::string source, std::string path = {}, YAML::Mark fallback = YAML::Mark());
  yaml_cursor(const yaml_cursor&) = default;
  yaml_cursor(yaml_cursor&&) = default;
  /// No assignment: YAML::Node's operator= writes through to the node it refers to, so assigning
  /// one cursor to another would overwrite the document (a cursor is rebound by constructing anew).
  yaml_cursor& operator=(const yaml_cursor&) = delete;
  yaml_cursor& operator=(yaml_cursor&&) = delete;

  /// The underlying yaml-cpp node.
  const YAML::Node& node() const { return node_; }
  /// The file (or name) the document came from.
  const std::string& source() const { return source_; }
  /// Key path from the document root, "" at the root.
  const std::string& path() const { return path_; }
  /// "file:line:column" of this node, or the label of the value_origin it came from.
  std::string where() const;

  /// This cursor, and every cursor reached from it, citing `origins` for values that did not come from the file.
  yaml_cursor with_origins(std::vector<value_origin> origins) const;
  /// The origin this node's value came from (the one whose path is this path or its longest ancestor), or null when it
  /// came from the file.
  const value_origin* origin() const;

  /// Throws troupe::error "file:line:column: path: problem" for this node.
  [[noreturn]] void fail(std::string_view problem) const;

  /// Throws unless this node is a mapping (or an empty value).
  void expect_map() const;
  /// Throws unless this node is a sequence.
  void expect_sequence() const;
  /// Throws unless this node is a scalar.
  void expect_scalar() const;

  /// Whether this mapping has `key`.
  bool has(const std::string& key) const;
  /// The value of `key`; a missing key throws at this mapping's position, naming the full path of the key.
  yaml_cursor child(const std::string& key) const;
  /// The value of `key`, or nothing when the key is absent.
  std::optional<yaml_cursor> find(const std::string& key) const;
  /// This mapping's keys in document order.
  std::vector<std::string> keys() const;
  /// This sequence's elements, with paths "path[i]".
  std::vector<yaml_cursor> items() const;
  /// Throws on a key not in `allowed` (suggesting the closest allowed key), a duplicate key or a non-scalar key.
  void check_keys(const std::vector<std::string>& allowed) const;

  /// This scalar as T (int, long, long long, their unsigned forms, float, double, bool or std::string); numbers must
  /// lie in `range`.
  template <class T>
  T as(const bounds& range = bounds::any()) const {
    T out{};
    read(out, range);
    return out;
  }
  /// The value of the required `key` as T, within `range` for numbers.
  template <class T>
  T required(const std::string& key, const bounds& range = bounds::any()) const {
    return child(key).template as<T>(range);
  }
  /// The value of `key` as T within `range`, or nothing when the key is absent (an empty value is an error).
  template <class T>
  std::optional<T> optional(const std::string& key, const bounds& range = bounds::any()) const {
    if (auto c = find(key))
      return c->template as<T>(range);
    return std::nullopt;
  }
  /// This scalar, which must be one of `allowed`; errors say "unknown <what> 'x' (did you mean 'y'?)" and list them.
  std::string as_choice(const std::vector<std::string>& allowed, std::string_view what) const;

private:
  void read(int& out, const bounds& range) const;
  void read(long& out, const bounds& range) const;
  void read(long long& out, const bounds& range) const;
  void read(unsigned& out, const bounds& range) const;
  void read(unsigned long& out, const bounds& range) const;
  void read(unsigned long long& out, const bounds& range) const;
  void read(float& out, const bounds& range) const;
  void read(double& out, const bounds& range) const;
  void read(bool& out, const bounds& range) const;
  void read(std::string& out, const bounds& range) const;

  template <class Int>
  Int read_integer(const bounds& range) const;
  double read_floating(const bounds& range, bool single) const;
  std::string child_path(const std::string& key) const;
  std::optional<yaml_cursor> lookup(const std::string& key) const;
  std::string cite(const YAML::Mark& mark, const std::string& path) const;
  [[noreturn]] void raise(const YAML::Mark& mark, const std::string& path, std::string_view problem) const;

  YAML::Node node_;
  std::string source_;
  std::string path_;
  YAML::Mark mark_;
  std::shared_ptr<const std::vector<value_origin>> origins_;
};

/// Parses YAML text cited as `source_name`; a syntax error throws "<source>:<line>:<col>: YAML syntax error: <msg>".
yaml_cursor parse_yaml(const std::string& text, const std::string& source_name);

/// Reads and parses the YAML file at `path`; errors cite `path` as given.
yaml_cursor load_yaml_file(const std::string& path);

} // namespace troupe::config
