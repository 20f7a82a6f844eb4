#pragma once
/// Command-line `--set key.path=value` overrides, applied to a YAML document before its typed parse.

#include <string>
#include <vector>

#include "config/yaml_util.hpp"

namespace troupe::config {

/// One `--set key.path=value`: `path` in canonical form ("cluster.nodes[1].endpoint"), `value` as typed.
struct override_kv {
  std::string path;
  std::string value;
};

/// Splits "job.epochs=1" into {"job.epochs", "1"} (at the first '='), checking the path's form and the value's YAML
/// syntax.
///
/// A path is names of letters, digits, '_' and '-' joined by '.', each optionally followed by
/// indexes "[N]". Throws troupe::error naming the argument and the expected form.
override_kv parse_override(const std::string& arg);

/// "--set job.epochs=1": how errors cite an override.
std::string override_label(const override_kv& kv);

/// Applies `overrides` in order to the document `root` and returns their origins (for yaml_cursor::with_origins).
///
/// Missing mappings on the way are created (an empty value or an absent document becomes a
/// mapping); an index must name an existing sequence element. The value is parsed as a YAML
/// scalar (`1`, `true`, `0.1`, `'quoted text'`) or, when it starts with '[' or '{', a flow
/// collection. `source` is the file name cited when the path runs into a value of the wrong kind.
std::vector<value_origin> apply_overrides(YAML::Node& root, const std::vector<override_kv>& overrides,
                                          const std::string& source);

} // namespace troupe::config
