#pragma once
/// "Did you mean ...?" suggestions for misspelled keys and names in configuration files.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::config {

/// Case-insensitive edit distance (insert, delete, substitute, swap two neighbours; each costs 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` if at most `max_distance` edits away and shorter in edits than the candidate itself;
/// the first one wins ties.
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates,
                                         std::size_t max_distance = 2);

} // namespace troupe::config
