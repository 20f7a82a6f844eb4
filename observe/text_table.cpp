#include "observe/text_table.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace troupe::observe {

std::string text_table(const std::vector<std::string>& header, const std::vector<bool>& right,
                       const std::vector<std::vector<std::string>>& rows, const std::vector<const char*>& colors) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows)
      width[c] = std::max(width[c], row[c].size());
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (c > 0)
        l += "  ";
      l += right[c] ? fmt::format("{:>{}}", cells[c], width[c]) : fmt::format("{:<{}}", cells[c], width[c]);
    }
    l.erase(l.find_last_not_of(' ') + 1);
    return l;
  };
  std::string out = line(header) + '\n';
  for (std::size_t i = 0; i < rows.size(); ++i)
    out += (colors[i] ? colors[i] : "") + line(rows[i]) + (colors[i] ? "\x1b[0m" : "") + '\n';
  return out;
}

} // namespace troupe::observe
