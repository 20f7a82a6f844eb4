#include "common/crc32.hpp"

#include <algorithm>

#include <zlib.h>

namespace troupe {

std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n) {
  // zlib continues from a finished CRC (it undoes and redoes the final inversion itself).
  const auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (n > 0) { // zlib takes at most uInt bytes per call
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(n, std::size_t{1} << 30));
    c = ::crc32(c, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(c);
}

std::uint32_t crc32_of(const void* data, std::size_t n) {
  return crc32_update(0, data, n);
}

} // namespace troupe
