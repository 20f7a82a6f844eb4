#include "data/idx_reader.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "data/byte_reader.hpp"

namespace troupe::data {

namespace {

constexpr std::size_t max_rank = 4;
constexpr std::size_t data_chunk = std::size_t{1} << 20;
/// Trailing bytes are counted up to this many; beyond it the message says "at least".
constexpr std::size_t trailing_count_cap = std::size_t{1} << 20;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw error(fmt::format("{}: {}", path, what));
}

/// Name of a valid IDX element type, or nullptr for a byte that is no IDX type at all.
const char* idx_type_name(std::uint8_t code) {
  switch (code) {
  case 0x08:
    return "unsigned byte";
  case 0x09:
    return "signed byte";
  case 0x0B:
    return "int16";
  case 0x0C:
    return "int32";
  case 0x0D:
    return "float32";
  case 0x0E:
    return "float64";
  default:
    return nullptr;
  }
}

std::string dims_text(const std::vector<std::uint32_t>& dims) {
  return fmt::format("{}", fmt::join(dims, " x "));
}

/// Reads exactly `count` header bytes or fails naming `what` was cut short.
void read_header(byte_reader& in, std::uint8_t* out, std::size_t count, const char* what) {
  const std::size_t got = in.read(out, count);
  if (got < count)
    fail(in.path(), fmt::format("truncated IDX header: expected {} bytes of {}, got {}", count, what, got));
}

/// The payload size the dimensions ask for, rejected if it overflows or exceeds idx_max_bytes.
std::size_t payload_bytes(const std::string& path, const std::vector<std::uint32_t>& dims) {
  std::size_t total = 1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 0)
      fail(path, fmt::format("invalid IDX header: dimension {} is zero (dims {})", i, dims_text(dims)));
    // Each factor is < 2^32 and the running product stays <= 2^31, so this cannot overflow.
    total *= dims[i];
    if (total > idx_max_bytes)
      fail(path, fmt::format("IDX data too large: dims {} need more than the limit of {} bytes", dims_text(dims),
                             idx_max_bytes));
  }
  return total;
}

/// Reads `total` payload bytes in chunks, so memory follows the data that actually arrives.
std::vector<std::uint8_t> read_payload(byte_reader& in, std::size_t total, const std::vector<std::uint32_t>& dims) {
  std::vector<std::uint8_t> bytes;
  // An uncompressed file's size is known: a header that overstates it fails without reading.
  if (const std::size_t left = in.remaining_hint(); left != SIZE_MAX) {
    if (left < total)
      fail(in.path(), fmt::format("truncated IDX data: expected {} bytes of data (dims {}), got {}", total,
                                  dims_text(dims), left));
    bytes.reserve(total);
  }
  while (bytes.size() < total) {
    const std::size_t have = bytes.size();
    const std::size_t want = std::min(data_chunk, total - have);
    bytes.resize(have + want);
    const std::size_t got = in.read(bytes.data() + have, want);
    bytes.resize(have + got);
    if (got < want)
      fail(in.path(), fmt::format("truncated IDX data: expected {} bytes of data (dims {}), got {}", total,
                                  dims_text(dims), bytes.size()));
  }
  return bytes;
}

/// Fails if anything follows the payload; reading to the end also checks the gzip trailer.
void expect_end(byte_reader& in, std::size_t total) {
  std::array<std::uint8_t, 4096> scratch{};
  std::size_t extra = 0;
  for (;;) {
    const std::size_t got = in.read(scratch.data(), scratch.size());
    extra += got;
    if (got < scratch.size() || extra >= trailing_count_cap)
      break;
  }
  if (extra == 0)
    return;
  fail(in.path(), fmt::format("trailing bytes after IDX data: {}{} extra bytes after the {} bytes "
                              "of data the header describes",
                              extra >= trailing_count_cap ? "at least " : "", extra, total));
}

} // namespace

std::size_t idx_array::elements() const {
  std::size_t n = 1;
  for (const auto d : dims)
    n *= d;
  return n;
}

idx_array read_idx(const std::string& path) {
  byte_reader in(path);

  std::array<std::uint8_t, 4> magic{};
  const std::size_t got = in.read(magic.data(), magic.size());
  if (got == 0)
    fail(path, "empty file, expected an IDX header");
  if (got < magic.size())
    fail(path, fmt::format("truncated IDX header: expected 4 bytes of magic number, got {}", got));
  if (magic[0] != 0 || magic[1] != 0)
    fail(path, fmt::format("bad IDX magic: the first two bytes must be 00 00, got {:02x} {:02x} "
                           "(not an IDX file)",
                           magic[0], magic[1]));

  idx_array result;
  result.type_code = magic[2];
  const char* type_name = idx_type_name(result.type_code);
  if (type_name == nullptr)
    fail(path, fmt::format("invalid IDX element type 0x{:02x}", result.type_code));
  if (result.type_code != idx_type_ubyte)
    fail(path, fmt::format("unsupported element type 0x{:02x} ({}): only 0x08 (unsigned byte) is "
                           "supported",
                           result.type_code, type_name));

  const std::size_t rank = magic[3];
  if (rank == 0 || rank > max_rank)
    fail(path, fmt::format("invalid IDX rank {}: expected 1 to {}", rank, max_rank));

  std::array<std::uint8_t, 4 * max_rank> raw_dims{};
  read_header(in, raw_dims.data(), 4 * rank, "dimensions");
  for (std::size_t i = 0; i < rank; ++i) {
    const std::uint8_t* b = raw_dims.data() + 4 * i;
    result.dims.push_back(std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 |
                          std::uint32_t{b[3]});
  }

  const std::size_t total = payload_bytes(path, result.dims);
  result.bytes = read_payload(in, total, result.dims);
  expect_end(in, total);
  return result;
}

} // namespace troupe::data
