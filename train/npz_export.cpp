#include "train/npz_export.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include "common/atomic_file.hpp"
#include "common/crc32.hpp"
#include "common/error.hpp"
#include "common/little_endian.hpp"

namespace troupe::train {

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "NPY '<f4' data is copied as host floats");

// ZIP record signatures and fields (PKWARE APPNOTE 6.3, sections 4.3.7, 4.3.12, 4.3.16).
constexpr std::uint32_t local_header_sig = 0x04034b50;
constexpr std::uint32_t central_header_sig = 0x02014b50;
constexpr std::uint32_t end_record_sig = 0x06054b50;
constexpr std::uint16_t zip_version = 20;                   // 2.0: plain stored files
constexpr std::uint16_t dos_date = (0 << 9) | (1 << 5) | 1; // 1980-01-01, the earliest DOS date
constexpr std::uint16_t dos_time = 0;
constexpr std::uint64_t zip32_limit = std::numeric_limits<std::uint32_t>::max();

// ZIP fields are little-endian; callers pass sizes already checked against zip32_limit / 0xffff.
void put16(std::string& out, std::uint64_t v) {
  append_le(out, static_cast<std::uint16_t>(v));
}
void put32(std::string& out, std::uint64_t v) {
  append_le(out, static_cast<std::uint32_t>(v));
}

/// A Python tuple literal of the shape, as numpy writes it: "()", "(5,)", "(2, 3)".
std::string tuple_of(const tensor::shape_t& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i)
    s += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

/// One NPY 1.0 file holding `n` floats of shape `shape`.
std::string npy_of(const tensor::shape_t& shape, const float* data, std::size_t n) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + tuple_of(shape) + ", }";
  // magic (6) + version (2) + header length (2) + header + '\n' is padded to a multiple of 64.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  TROUPE_ENFORCE(header.size() <= 0xffff, "export_npz: NPY header of {} bytes exceeds format 1.0", header.size());
  std::string out("\x93NUMPY\x01\x00", 8);
  put16(out, header.size());
  out += header;
  out.append(reinterpret_cast<const char*>(data), n * sizeof(float));
  return out;
}

struct zip_entry {
  std::string name;
  std::uint32_t crc = 0;
  std::uint64_t size = 0;
  std::uint64_t offset = 0;
};

/// The fields local and central headers share, from "version needed" to "extra field length".
void put_common(std::string& out, const zip_entry& e) {
  put16(out, zip_version); // version needed to extract
  put16(out, 0);           // flags
  put16(out, 0);           // method: stored
  put16(out, dos_time);
  put16(out, dos_date);
  put32(out, e.crc);
  put32(out, e.size); // compressed size
  put32(out, e.size); // uncompressed size
  put16(out, e.name.size());
  put16(out, 0); // extra field length
}

void check_layout(const nn::param_layout& layout, const float* params) {
  TROUPE_ENFORCE(params != nullptr || layout.total == 0, "export_npz: no parameter values given");
  TROUPE_ENFORCE(layout.entries.size() < 0xffff, "export_npz: {} parameters exceed a ZIP's 65534 entries",
                 layout.entries.size());
  std::set<std::string> names;
  for (const auto& e : layout.entries) {
    TROUPE_ENFORCE(!e.name.empty() && e.name.find_first_of(std::string("/\\\0", 3)) == std::string::npos,
                   "export_npz: parameter name '{}' cannot name an archive entry", e.name);
    TROUPE_ENFORCE(e.name.size() < 0xffff - 4, "export_npz: parameter name of {} bytes is too long for a ZIP entry",
                   e.name.size());
    TROUPE_ENFORCE(names.insert(e.name).second, "export_npz: parameter '{}' appears twice", e.name);
    TROUPE_ENFORCE(e.size == tensor::numel(e.shape) && e.offset <= layout.total && e.size <= layout.total - e.offset,
                   "export_npz: parameter '{}' of shape {} ({} floats at offset {}) does not fit the layout of {} "
                   "floats",
                   e.name, tensor::shape_str(e.shape), e.size, e.offset, layout.total);
  }
}

} // namespace

void export_npz(const std::string& path, const nn::param_layout& layout, const float* params) {
  check_layout(layout, params);
  std::string out;
  std::vector<zip_entry> entries;
  for (const auto& p : layout.entries) {
    const std::string npy = npy_of(p.shape, params + p.offset, p.size);
    zip_entry e{p.name + ".npy", crc32_of(npy.data(), npy.size()), npy.size(), out.size()};
    TROUPE_ENFORCE(e.offset + 30 + e.name.size() + e.size < zip32_limit,
                   "{}: the archive would exceed 4 GiB, which needs ZIP64", path);
    put32(out, local_header_sig);
    put_common(out, e);
    out += e.name;
    out += npy;
    entries.push_back(std::move(e));
  }
  const std::uint64_t directory_offset = out.size();
  for (const auto& e : entries) {
    put32(out, central_header_sig);
    put16(out, zip_version); // version made by: MS-DOS attributes, 2.0
    put_common(out, e);
    put16(out, 0); // comment length
    put16(out, 0); // disk number start
    put16(out, 0); // internal attributes
    put32(out, 0); // external attributes
    put32(out, e.offset);
    out += e.name;
  }
  const std::uint64_t directory_size = out.size() - directory_offset;
  TROUPE_ENFORCE(out.size() < zip32_limit, "{}: the archive would exceed 4 GiB, which needs ZIP64", path);
  put32(out, end_record_sig);
  put16(out, 0); // this disk
  put16(out, 0); // disk holding the central directory
  put16(out, entries.size());
  put16(out, entries.size());
  put32(out, directory_size);
  put32(out, directory_offset);
  put16(out, 0); // comment length
  write_file_atomic(path, out);
}

} // namespace troupe::train
