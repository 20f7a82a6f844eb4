#include <cstring>
#include <istream>
#include <optional>
#include <streambuf>

#include <cereal/archives/portable_binary.hpp>

#include "common/error.hpp"
#include "net/buffer_pool.hpp"
#include "net/codec.hpp"
#include "net/wire_checks.hpp"

namespace troupe::net {

namespace {

/// An istream buffer over a frame's bytes: no copy, and it knows how much is left.
class frame_buf : public std::streambuf {
public:
  frame_buf(const std::byte* p, std::size_t n) {
    // std::streambuf wants char*; the get area is only ever read.
    auto* b = const_cast<char*>(reinterpret_cast<const char*>(p));
    setg(b, b, b + n);
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

/// Internal control flow of the parser; decode() turns it into a decode_error and never lets it out.
struct rejected {
  decode_error e;
};

[[noreturn]] void reject(decode_error::reason r, std::string detail) {
  throw rejected{{r, std::move(detail)}};
}

/// Reads the header fields from the archive part of frame 0, checking every length before use.
class header_reader {
public:
  header_reader(const std::byte* p, std::size_t n) : buf_(p, n), in_(&buf_), ar_(in_) {}

  header parse(std::uint64_t expected_cluster, const limits& lim) {
    header h;
    h.cluster_id = read<std::uint64_t>("the cluster id");
    if (h.cluster_id != expected_cluster)
      reject(decode_error::wrong_cluster,
             fmt::format("cluster id {:#018x} is not this cluster's {:#018x}", h.cluster_id, expected_cluster));
    const auto type = read<std::uint16_t>("the message type");
    const auto known = msg_type_from_wire(type);
    if (!known)
      reject(decode_error::unknown_type,
             fmt::format("message type {} is unknown to this node (protocol version {})", type, protocol_version));
    h.type = *known;
    h.sender = read_string("the sender name");
    h.seq = read<std::uint64_t>("seq");
    h.clock = read<std::uint64_t>("clock");
    h.step = read<std::uint64_t>("step");
    const auto count = read<std::uint32_t>("the tensor count");
    if (std::uint64_t{count} + 1 > lim.max_frames)
      reject(decode_error::too_many_frames, fmt::format("header lists {} tensors, the limit is {} frames including "
                                                        "the header",
                                                        count, lim.max_frames));
    h.tensors.reserve(count);
    std::uint64_t total = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      tensor_desc t;
      t.name = read_string(fmt::format("the name of tensor {}", i));
      const auto type_byte = read<std::uint8_t>("a dtype");
      const auto dt = dtype_from_wire(type_byte);
      if (!dt)
        reject(decode_error::bad_header, fmt::format("tensor {} '{}' has unknown dtype {}", i, t.name, type_byte));
      t.type = *dt;
      const auto rank = read<std::uint8_t>("a rank");
      if (rank > lim.max_tensor_rank)
        reject(decode_error::bad_shape,
               fmt::format("tensor {} '{}' has rank {}, the limit is {}", i, t.name, rank, lim.max_tensor_rank));
      t.shape.resize(rank);
      for (auto& d : t.shape)
        d = read<std::uint32_t>("a dimension");
      if (auto e = detail::check_tensor(t, i, lim, total))
        throw rejected{std::move(*e)};
      h.tensors.push_back(std::move(t));
    }
    h.meta = read_string("the meta text");
    const auto recipients = read<std::uint32_t>("the recipient count");
    if (recipients > lim.max_recipients)
      reject(decode_error::bad_header,
             fmt::format("header lists {} recipients, the limit is {}", recipients, lim.max_recipients));
    h.to.reserve(recipients);
    for (std::uint32_t i = 0; i < recipients; ++i)
      h.to.push_back(read_string(fmt::format("recipient {}", i)));
    if (buf_.remaining() != 0)
      reject(decode_error::bad_header,
             fmt::format("header frame has {} bytes after its last field (the recipients)", buf_.remaining()));
    return h;
  }

private:
  void need(std::size_t n, std::string_view what) {
    if (buf_.remaining() < n)
      reject(decode_error::truncated_header,
             fmt::format("header frame ends inside {} ({} bytes needed, {} left)", what, n, buf_.remaining()));
  }
  template <class T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v{};
    ar_(v);
    return v;
  }
  std::string read_string(std::string_view what) {
    const auto n = read<std::uint64_t>(what);
    if (n > buf_.remaining())
      reject(decode_error::truncated_header,
             fmt::format("{} claims {} bytes but only {} remain in the header frame", what, n, buf_.remaining()));
    std::string s(static_cast<std::size_t>(n), '\0');
    if (n != 0)
      ar_(cereal::binary_data(s.data(), s.size()));
    return s;
  }

  frame_buf buf_;
  std::istream in_;
  cereal::PortableBinaryInputArchive ar_;
};

std::uint16_t get_u16_le(const std::byte* p) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) | (std::to_integer<unsigned>(p[1]) << 8U));
}

/// Joins each tensor's pieces into one buffer. Checked: every piece of a non-empty tensor is
/// non-empty, the pieces end exactly at each tensor's end, and none is left over. The sizes were
/// checked against lim.max_message_bytes with the header, so nothing here allocates unchecked.
std::vector<payload> assemble(const std::vector<tensor_desc>& tensors, std::vector<payload> pieces,
                              const assembly& where) {
  std::optional<buffer_pool> unpooled; // without a pool: one that keeps nothing, made only if needed
  std::vector<payload> out;
  out.reserve(tensors.size());
  std::size_t k = 0;
  for (const tensor_desc& t : tensors) {
    const std::uint64_t need = t.bytes();
    const std::size_t first = k;
    std::uint64_t got = 0;
    do {
      if (k == pieces.size())
        reject(decode_error::frame_count_mismatch,
               fmt::format("the frames end after {} of the {} bytes of tensor {}", got, need, t.describe()));
      const std::size_t n = pieces[k].size();
      if ((n == 0 && need != 0) || n > need - got)
        reject(decode_error::frame_size_mismatch,
               fmt::format("frame {} has {} bytes where tensor {} has {} left", k + 1, n, t.describe(), need - got));
      got += n;
      ++k;
    } while (got < need);
    if (k - first == 1) {
      out.push_back(std::move(pieces[first]));
      continue;
    }
    buffer_pool* pool = where.pool;
    if (pool == nullptr) {
      if (!unpooled)
        unpooled.emplace(0); // frees what it hands out once released
      pool = &*unpooled;
    }
    auto lease = pool->take(need, where.keep);
    std::byte* at = lease.data;
    for (std::size_t j = first; j < k; ++j) {
      std::memcpy(at, pieces[j].data(), pieces[j].size());
      at += pieces[j].size();
      pieces[j] = payload(); // the piece's receive buffer is released as soon as it is copied
    }
    out.emplace_back(std::move(lease.owner), lease.data, need);
  }
  if (k != pieces.size())
    reject(decode_error::frame_count_mismatch,
           fmt::format("{} frames follow the last byte of the last tensor", pieces.size() - k));
  return out;
}

message decode_checked(std::vector<payload> frames, const limits& lim, std::uint64_t expected_cluster,
                       const assembly& where) {
  if (frames.empty())
    reject(decode_error::truncated_header, "no frames: a message needs at least a header frame");
  if (frames.size() - 1 > lim.max_pieces)
    reject(decode_error::too_many_frames, fmt::format("message has {} tensor frames after the header, the limit is {} "
                                                      "(max_pieces)",
                                                      frames.size() - 1, lim.max_pieces));
  const payload& f0 = frames[0];
  if (f0.size() > lim.max_header_bytes)
    reject(decode_error::too_large,
           fmt::format("header frame has {} bytes, the limit is {}", f0.size(), lim.max_header_bytes));
  const std::size_t magic_bytes = std::min(f0.size(), protocol_magic.size());
  if (magic_bytes != 0 && std::memcmp(f0.data(), protocol_magic.data(), magic_bytes) != 0) {
    std::string hex;
    for (std::size_t i = 0; i < magic_bytes; ++i)
      hex += fmt::format("{}{:02x}", i ? " " : "", std::to_integer<unsigned>(f0.data()[i]));
    reject(decode_error::bad_magic, fmt::format("header frame starts with bytes {}, not the magic \"TRP1\"", hex));
  }
  if (f0.size() < header_prefix_bytes)
    reject(decode_error::truncated_header,
           fmt::format("header frame has {} bytes, fewer than its {}-byte prefix", f0.size(), header_prefix_bytes));
  const auto version = get_u16_le(f0.data() + 4);
  if (version != protocol_version)
    reject(decode_error::bad_version,
           fmt::format("protocol version {} from peer, this node speaks {}", version, protocol_version));
  if (const auto flags = get_u16_le(f0.data() + 6); flags != 0)
    reject(decode_error::bad_header, fmt::format("unknown header flags {:#06x}", flags));
  const std::byte* archive = f0.data() + header_prefix_bytes;
  const std::size_t archive_bytes = f0.size() - header_prefix_bytes;
  if (archive_bytes == 0)
    reject(decode_error::truncated_header, "header frame ends after its prefix");
  // cereal's portable archive opens with an endianness byte; anything but 0/1 is not ours.
  if (std::to_integer<unsigned>(archive[0]) > 1)
    reject(decode_error::bad_header,
           fmt::format("bad endianness marker {} in the header archive", std::to_integer<unsigned>(archive[0])));

  header h = header_reader(archive, archive_bytes).parse(expected_cluster, lim);

  std::vector<payload> tensor_frames(std::make_move_iterator(frames.begin() + 1),
                                     std::make_move_iterator(frames.end()));
  if (tensor_frames.size() > h.tensors.size())
    tensor_frames = assemble(h.tensors, std::move(tensor_frames), where);
  if (auto e = detail::check_frames(h.tensors, tensor_frames, 1))
    throw rejected{std::move(*e)};
  // A receive buffer may place a frame at any address; copy the rare misaligned one so views are valid.
  for (std::size_t i = 0; i < tensor_frames.size(); ++i) {
    auto& f = tensor_frames[i];
    if (reinterpret_cast<std::uintptr_t>(f.data()) % element_size(h.tensors[i].type) != 0)
      f = payload::copy_of(f.data(), f.size());
  }
  message m;
  m.h = std::move(h);
  m.frames = std::move(tensor_frames);
  return m;
}

} // namespace

std::string to_string(decode_error::reason r) {
  static constexpr const char* names[] = {"bad_magic",
                                          "bad_version",
                                          "wrong_cluster",
                                          "truncated_header",
                                          "bad_header",
                                          "unknown_type",
                                          "too_many_frames",
                                          "frame_count_mismatch",
                                          "frame_size_mismatch",
                                          "too_large",
                                          "bad_shape",
                                          "unauthenticated",
                                          "flooding"};
  static_assert(std::size(names) == decode_error::reason_count);
  return r < decode_error::reason_count ? names[r] : fmt::format("reason({})", static_cast<unsigned>(r));
}

message& decode_result::value() & {
  if (!ok())
    throw troupe::error(fmt::format("no message: {}: {}", to_string(error().code), error().detail));
  return std::get<message>(v_);
}

message&& decode_result::value() && {
  return std::move(value());
}

const decode_error& decode_result::error() const {
  TROUPE_ENFORCE(!ok(), "decoding succeeded, there is no error");
  return std::get<decode_error>(v_);
}

decode_result decode(std::vector<payload> frames, const limits& lim, std::uint64_t expected_cluster_id,
                     const assembly& where) {
  try {
    return decode_checked(std::move(frames), lim, expected_cluster_id, where);
  } catch (const rejected& r) {
    return r.e;
  } catch (const cereal::Exception& e) {
    return decode_error{decode_error::truncated_header, fmt::format("header archive: {}", e.what())};
  } catch (const std::exception& e) {
    return decode_error{decode_error::bad_header, fmt::format("header: {}", e.what())};
  }
}

} // namespace troupe::net
