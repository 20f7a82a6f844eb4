#pragma once
// CRC-32 for the train/ tests, computed independently of common/crc32 (the implementation under test).

#include <cstdint>
#include <cstring>
#include <string>

namespace troupe::test {

/// CRC-32 (IEEE, reflected) of p[0..n), bit by bit.
inline std::uint32_t reference_crc(const char* p, std::size_t n) {
  std::uint32_t crc = 0xffffffffu;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= static_cast<unsigned char>(p[i]);
    for (int k = 0; k < 8; ++k)
      crc = (crc & 1u) ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
  }
  return ~crc;
}

/// CRC-32 of the first n bytes of `bytes` (all of them by default).
inline std::uint32_t reference_crc(const std::string& bytes, std::size_t n = std::string::npos) {
  return reference_crc(bytes.data(), n == std::string::npos ? bytes.size() : n);
}

/// A checkpoint's bytes with its CRC-32 trailer recomputed, so that a deliberate edit is taken as
/// intended rather than caught as damage.
inline std::string with_crc(std::string bytes) {
  const std::uint32_t crc = reference_crc(bytes, bytes.size() - 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  return bytes;
}

} // namespace troupe::test
