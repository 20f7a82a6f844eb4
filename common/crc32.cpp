#include "common/crc32.hpp"

#include <algorithm>

#include <zlib.h>

namespace troupe {

std::uint32_t crc32_of(const void* data, std::size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {  // zlib takes at most uInt bytes per call
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(n, std::size_t{1} << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

} // namespace troupe
