#pragma once
/// CRC-32 (zlib's, as in ZIP and gzip: IEEE 802.3, reflected polynomial 0xEDB88320) of byte ranges
/// of any length, one-shot or incremental; the trailer of every file Troupe writes.

#include <cstddef>
#include <cstdint>

namespace troupe {

/// The CRC-32 of `crc`'s bytes followed by data[0..n); start from 0 (the CRC-32 of nothing).
///
/// crc32_update(crc32_update(0, a, n), b, m) == crc32_of(a followed by b).
std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n);

/// The CRC-32 of data[0..n) ("123456789" gives 0xCBF43926).
std::uint32_t crc32_of(const void* data, std::size_t n);

/// A running CRC-32 over bytes fed in pieces.
class crc32_accumulator {
public:
  /// Appends data[0..n) to the bytes checksummed so far.
  void update(const void* data, std::size_t n) { crc_ = crc32_update(crc_, data, n); }

  /// The CRC-32 of every byte passed to update() so far (0 before any).
  std::uint32_t value() const { return crc_; }

private:
  std::uint32_t crc_ = 0;
};

} // namespace troupe
