#pragma once
/// The plain-text tables of `watch` and `watch --peers`.

#include <string>
#include <vector>

namespace troupe::observe {

/// The header line and one line per row: columns padded to their widest cell (left, or right
/// where `right[c]`), two spaces apart, trailing blanks dropped. A row whose colour is not null is
/// wrapped in that ANSI colour and a reset (callers pass null colours when not on a terminal).
std::string text_table(const std::vector<std::string>& header, const std::vector<bool>& right,
                       const std::vector<std::vector<std::string>>& rows, const std::vector<const char*>& colors);

} // namespace troupe::observe
