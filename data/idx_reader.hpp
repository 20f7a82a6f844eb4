#pragma once
/// Reader for the IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed.
///
/// Layout (all integers big-endian): 0x00 0x00, a type byte, a rank byte, rank x uint32
/// dimensions, then the elements in row-major order and nothing after them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace troupe::data {

/// IDX type byte of unsigned 8-bit elements, the only element type Troupe reads.
constexpr std::uint8_t idx_type_ubyte = 0x08;

/// Largest payload read_idx accepts (2 GiB); a header asking for more is rejected before reading.
constexpr std::size_t idx_max_bytes = std::size_t{1} << 31;

/// The contents of one IDX file: element type, dimensions and the raw element bytes.
struct idx_array {
  std::uint8_t type_code = idx_type_ubyte;
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> bytes;

  /// Product of the dimensions (1 for an empty dims vector).
  std::size_t elements() const;
};

/// Reads and validates an IDX file (gzip if named *.gz or starting with 1f 8b); throws troupe::error naming the path
/// and the defect.
///
/// Rejected: a missing or unreadable file, non-zero magic bytes, element types other than 0x08
/// (valid IDX types 0x09..0x0E get an "unsupported element type" error), rank 0 or > 4, a zero
/// dimension, a payload above idx_max_bytes, truncated data, trailing bytes and corrupt gzip.
/// Memory grows only with bytes actually read, never with what the header claims.
idx_array read_idx(const std::string& path);

} // namespace troupe::data
