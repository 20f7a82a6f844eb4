#include "common/byte_cursor.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe {

void byte_cursor::fail_needs(std::size_t n, std::string_view what) const {
  throw error(fmt::format("{}: {} needs {} bytes at offset {}, only {} left", context_, what, n, pos_, remaining()));
}

void byte_cursor::fail_claims(std::uint64_t count, std::size_t item_bytes, std::string_view what) const {
  throw error(fmt::format("{}: {} claims {} x {} bytes at offset {}, only {} left", context_, what, count, item_bytes,
                          pos_, remaining()));
}

} // namespace troupe
