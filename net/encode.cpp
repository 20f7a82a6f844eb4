#include <algorithm>
#include <climits>
#include <sstream>

#include <cereal/archives/portable_binary.hpp>

#include "common/error.hpp"
#include "common/fnv1a.hpp"
#include "net/codec.hpp"
#include "net/wire_checks.hpp"

namespace troupe::net {

namespace {

void put_u16_le(std::ostream& os, std::uint16_t v) {
  const char b[2] = {static_cast<char>(v & 0xffU), static_cast<char>(v >> 8U)};
  os.write(b, 2);
}

/// A string is its length as u64, then its bytes (the decoder checks the length against what is left).
void save_string(cereal::PortableBinaryOutputArchive& ar, const std::string& s) {
  ar(static_cast<std::uint64_t>(s.size()));
  if (!s.empty())
    ar(cereal::binary_data(s.data(), s.size()));
}

} // namespace

std::string encode_header(const header& h) {
  std::ostringstream os(std::ios::binary);
  os.write(protocol_magic.data(), protocol_magic.size());
  put_u16_le(os, protocol_version);
  put_u16_le(os, 0); // flags
  {
    cereal::PortableBinaryOutputArchive ar(os, cereal::PortableBinaryOutputArchive::Options::LittleEndian());
    ar(h.cluster_id, static_cast<std::uint16_t>(h.type));
    save_string(ar, h.sender);
    ar(h.seq, h.clock, h.step);
    TROUPE_ENFORCE(h.tensors.size() <= UINT32_MAX, "{} tensors do not fit in one message", h.tensors.size());
    ar(static_cast<std::uint32_t>(h.tensors.size()));
    for (const auto& t : h.tensors) {
      save_string(ar, t.name);
      TROUPE_ENFORCE(t.shape.size() <= UINT8_MAX, "tensor {} has rank {}, the wire allows 255", t.describe(),
                     t.shape.size());
      ar(static_cast<std::uint8_t>(t.type), static_cast<std::uint8_t>(t.shape.size()));
      for (auto d : t.shape)
        ar(d);
    }
    save_string(ar, h.meta);
    TROUPE_ENFORCE(h.to.size() <= UINT32_MAX, "{} recipients do not fit in one message", h.to.size());
    ar(static_cast<std::uint32_t>(h.to.size()));
    for (const auto& name : h.to)
      save_string(ar, name);
  }
  return os.str();
}

std::optional<decode_error> validate(const message& m, const limits& lim) {
  if (!msg_type_from_wire(static_cast<std::uint16_t>(m.h.type)))
    return decode_error{decode_error::unknown_type, fmt::format("message type {} is unknown", to_string(m.h.type))};
  if (m.h.to.size() > lim.max_recipients)
    return decode_error{decode_error::bad_header,
                        fmt::format("{} recipients, the limit is {}", m.h.to.size(), lim.max_recipients)};
  if (m.frames.size() + 1 > lim.max_frames)
    return decode_error{decode_error::too_many_frames, fmt::format("{} tensor frames plus the header exceed the limit "
                                                                   "of {} frames",
                                                                   m.frames.size(), lim.max_frames)};
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < m.h.tensors.size(); ++i)
    if (auto e = detail::check_tensor(m.h.tensors[i], i, lim, total))
      return e;
  return detail::check_frames(m.h.tensors, m.frames, 1);
}

std::vector<payload> encode(const message& m, const limits& lim, std::size_t piece_bytes, std::size_t whole_up_to) {
  if (auto e = validate(m, lim))
    throw error(fmt::format("cannot encode {} message: {}: {}", to_string(m.h.type), to_string(e->code), e->detail));
  auto hdr = encode_header(m.h);
  TROUPE_ENFORCE(hdr.size() <= lim.max_header_bytes, "{} message has a {}-byte header, the limit is {}",
                 to_string(m.h.type), hdr.size(), lim.max_header_bytes);
  std::vector<payload> frames;
  frames.reserve(m.frames.size() + 1);
  frames.push_back(payload::from_string(std::move(hdr)));
  for (const payload& f : m.frames) {
    if (piece_bytes == 0 || f.size() <= std::max(piece_bytes, whole_up_to)) {
      frames.push_back(f);
      continue;
    }
    // Slices of the one buffer: each piece shares the tensor's owner, nothing is copied.
    for (std::size_t at = 0; at < f.size(); at += piece_bytes)
      frames.emplace_back(f.owner(), f.data() + at, std::min(piece_bytes, f.size() - at));
  }
  TROUPE_ENFORCE(frames.size() - 1 <= lim.max_pieces,
                 "{} message needs {} tensor frames in pieces of {} bytes, the limit is {} (max_pieces)",
                 to_string(m.h.type), frames.size() - 1, piece_bytes, lim.max_pieces);
  return frames;
}

std::uint64_t cluster_id_of(const std::string& name) {
  return fnv1a(name);
}

} // namespace troupe::net
