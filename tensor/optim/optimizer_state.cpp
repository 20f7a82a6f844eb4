#include "tensor/optim/optimizer_state.hpp"

#include <algorithm>
#include <array>
#include <istream>
#include <optional>
#include <ostream>

#include "common/crc32.hpp"
#include "common/error.hpp"
#include "common/little_endian.hpp"

namespace troupe::optim {

namespace {

constexpr std::array<char, 6> magic = {'T', 'R', 'P', 'O', 'P', 'T'};

/// Floats converted per chunk: bounds the scratch buffer and, on an unseekable stream, how far
/// an allocation can run ahead of the bytes actually present.
constexpr std::size_t floats_per_chunk = std::size_t{1} << 14;

/// Smallest encoding of one buffer: u32 name length + u64 float count (the name is non-empty, +1).
constexpr std::uint64_t min_buffer_bytes = 4 + 1 + 8;

/// Writes bytes and keeps the running checksum of everything after the header.
class writer {
public:
  explicit writer(std::ostream& out) : out_(out) {}

  void bytes(const void* data, std::size_t n) {
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    crc_.update(data, n);
  }
  void u32(std::uint32_t v) {
    unsigned char b[4];
    store_le(b, v);
    bytes(b, 4);
  }
  void u64(std::uint64_t v) {
    unsigned char b[8];
    store_le(b, v);
    bytes(b, 8);
  }
  void floats(const std::vector<float>& values) {
    std::vector<unsigned char> chunk(std::min(values.size(), floats_per_chunk) * 4);
    for (std::size_t first = 0; first < values.size(); first += floats_per_chunk) {
      const std::size_t n = std::min(floats_per_chunk, values.size() - first);
      for (std::size_t i = 0; i < n; ++i)
        store_le(&chunk[4 * i], values[first + i]);
      bytes(chunk.data(), 4 * n);
    }
  }
  std::uint32_t checksum() const { return crc_.value(); }

private:
  std::ostream& out_;
  crc32_accumulator crc_;
};

/// Reads bytes with truncation checks, tracking the checksum and, when the stream can tell,
/// how many bytes remain so that lengths are checked before anything is allocated for them.
class reader {
public:
  explicit reader(std::istream& in) : in_(in), remaining_(bytes_left(in)) {}

  void bytes(void* data, std::size_t n, const char* what) {
    in_.read(static_cast<char*>(data), static_cast<std::streamsize>(n));
    const auto got = static_cast<std::size_t>(in_.gcount());
    TROUPE_ENFORCE(got == n, "optimizer state: stream truncated while reading {} (needed {} bytes, got {})", what, n,
                   got);
    crc_.update(data, n);
    if (remaining_)
      *remaining_ -= std::min<std::uint64_t>(*remaining_, n);
  }
  std::uint32_t u32(const char* what) {
    unsigned char b[4];
    bytes(b, 4, what);
    return load_le<std::uint32_t>(b);
  }
  std::uint64_t u64(const char* what) {
    unsigned char b[8];
    bytes(b, 8, what);
    return load_le<std::uint64_t>(b);
  }

  /// Throws unless the stream may still hold `count` items of `item_bytes` each.
  void expect_room(std::uint64_t count, std::uint64_t item_bytes, const std::string& what) const {
    if (!remaining_)
      return;
    TROUPE_ENFORCE(count <= *remaining_ / item_bytes,
                   "optimizer state: {} claims {} x {} bytes but only {} bytes remain in the stream "
                   "(truncated or corrupt)",
                   what, count, item_bytes, *remaining_);
  }

  std::string name(const char* what) {
    const std::uint32_t length = u32(what);
    TROUPE_ENFORCE(length > 0, "optimizer state: {} is empty", what);
    TROUPE_ENFORCE(length <= optimizer_state_max_name,
                   "optimizer state: {} length {} exceeds the limit of {} bytes (corrupt stream?)", what, length,
                   optimizer_state_max_name);
    expect_room(length, 1, what);
    std::string s(length, '\0');
    bytes(s.data(), length, what);
    return s;
  }

  std::vector<float> floats(std::uint64_t count, const std::string& what) {
    TROUPE_ENFORCE(count <= optimizer_state_max_floats,
                   "optimizer state: {} claims {} floats, over the limit of {} (corrupt stream?)", what, count,
                   optimizer_state_max_floats);
    expect_room(count, 4, what);
    std::vector<float> values;
    if (remaining_)
      values.reserve(static_cast<std::size_t>(count)); // Checked against the stream above.
    std::vector<unsigned char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(count, floats_per_chunk)) * 4);
    for (std::uint64_t first = 0; first < count; first += floats_per_chunk) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(floats_per_chunk, count - first));
      bytes(chunk.data(), 4 * n, what.c_str());
      for (std::size_t i = 0; i < n; ++i)
        values.push_back(load_le<float>(&chunk[4 * i]));
    }
    return values;
  }

  std::uint32_t checksum() const { return crc_.value(); }

private:
  /// Bytes between the read position and the end, or nothing if the stream cannot seek.
  static std::optional<std::uint64_t> bytes_left(std::istream& in) {
    const std::streampos here = in.tellg();
    if (here == std::streampos(-1)) {
      in.clear();
      return std::nullopt;
    }
    in.seekg(0, std::ios::end);
    const std::streampos end = in.tellg();
    in.clear();
    in.seekg(here);
    if (end == std::streampos(-1) || !in || end < here) {
      in.clear();
      return std::nullopt;
    }
    return static_cast<std::uint64_t>(end - here);
  }

  std::istream& in_;
  std::optional<std::uint64_t> remaining_;
  crc32_accumulator crc_;
};

std::string printable(const char* data, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    s += c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02x}", c);
  }
  return s;
}

} // namespace

void write_optimizer_state(std::ostream& out, const optimizer_state& state) {
  TROUPE_ENFORCE(!state.kind.empty() && state.kind.size() <= optimizer_state_max_name,
                 "optimizer state: kind must be 1 to {} bytes, got {}", optimizer_state_max_name, state.kind.size());
  for (const auto& [name, values] : state.buffers) {
    TROUPE_ENFORCE(!name.empty() && name.size() <= optimizer_state_max_name,
                   "optimizer state: buffer name must be 1 to {} bytes, got {} ('{:.64}')", optimizer_state_max_name,
                   name.size(), name);
    TROUPE_ENFORCE(values.size() <= optimizer_state_max_floats,
                   "optimizer state: buffer '{}' holds {} floats, over the limit of {}", name, values.size(),
                   optimizer_state_max_floats);
  }

  out.write(magic.data(), magic.size());
  unsigned char version[4];
  store_le(version, optimizer_state_version);
  out.write(reinterpret_cast<const char*>(version), 4);

  writer w(out);
  w.u32(static_cast<std::uint32_t>(state.kind.size()));
  w.bytes(state.kind.data(), state.kind.size());
  w.u64(state.step);
  w.u64(state.buffers.size());
  for (const auto& [name, values] : state.buffers) {
    w.u32(static_cast<std::uint32_t>(name.size()));
    w.bytes(name.data(), name.size());
    w.u64(values.size());
    w.floats(values);
  }
  unsigned char crc[4];
  store_le(crc, w.checksum());
  out.write(reinterpret_cast<const char*>(crc), 4);
  TROUPE_ENFORCE(out.good(), "optimizer state: writing to the output stream failed");
}

optimizer_state read_optimizer_state(std::istream& in) {
  TROUPE_ENFORCE(in.good(), "optimizer state: the input stream is not readable");
  std::array<char, magic.size()> found{};
  in.read(found.data(), found.size());
  const auto got = static_cast<std::size_t>(in.gcount());
  TROUPE_ENFORCE(got == found.size() && found == magic,
                 "optimizer state: bad magic: expected \"{}\", found \"{}\" (not an optimizer state stream)",
                 printable(magic.data(), magic.size()), printable(found.data(), got));
  unsigned char version_bytes[4];
  in.read(reinterpret_cast<char*>(version_bytes), 4);
  TROUPE_ENFORCE(in.gcount() == 4, "optimizer state: stream truncated while reading the format version");
  const auto version = load_le<std::uint32_t>(version_bytes);
  TROUPE_ENFORCE(version == optimizer_state_version,
                 "optimizer state: unsupported format version {} (this build reads version {})", version,
                 optimizer_state_version);

  reader r(in);
  optimizer_state state;
  state.kind = r.name("optimizer kind");
  state.step = r.u64("step count");
  const std::uint64_t count = r.u64("buffer count");
  r.expect_room(count, min_buffer_bytes, "buffer count");
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string name = r.name("buffer name");
    TROUPE_ENFORCE(state.buffers.count(name) == 0, "optimizer state: buffer '{}' appears twice", name);
    const std::uint64_t floats = r.u64("buffer length");
    auto values = r.floats(floats, fmt::format("buffer '{}'", name));
    state.buffers.emplace(std::move(name), std::move(values));
  }
  const std::uint32_t computed = r.checksum();
  const std::uint32_t stored = r.u32("checksum");
  TROUPE_ENFORCE(stored == computed,
                 "optimizer state: checksum mismatch (stored {:#010x}, computed {:#010x}): the stream is corrupt",
                 stored, computed);
  return state;
}

} // namespace troupe::optim
