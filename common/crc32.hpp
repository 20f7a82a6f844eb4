#pragma once
/// CRC-32 (zlib's, as in ZIP and gzip) of a byte range of any length; the trailer of every file
/// Troupe writes.

#include <cstddef>
#include <cstdint>

namespace troupe {

std::uint32_t crc32_of(const void* data, std::size_t n);

} // namespace troupe
