#pragma once
/// The wire format: how a message becomes frames and, strictly, back.
///
/// Frame 0 (header frame):
///   bytes 0..3  magic "TRP1"
///   bytes 4..5  protocol version, u16 little-endian (this node speaks `protocol_version`)
///   bytes 6..7  flags, u16 little-endian (none defined: must be 0)
///   bytes 8..   cereal PortableBinary archive (little-endian), fields in this order:
///               cluster_id u64, type u16, sender (u64 length + bytes), seq u64, clock u64,
///               step u64, tensor count u32, per tensor { name, dtype u8, rank u8, dims u32 x rank },
///               meta (u64 length + bytes),
///               recipient count u32, per recipient { u64 length + bytes }      (since version 2)
/// Frames 1..: the raw bytes of tensor 0..n-1, row-major, little-endian, each tensor in one frame
///             or in several consecutive frames ("pieces", since version 3) whose bytes, concatenated,
///             are the tensor's. Large tensors travel in pieces because libzmq receives every frame
///             into a fresh allocation: a 64 MB frame costs 16k page faults per message, 1 MB pieces
///             come from reused heap memory (measured: 16M floats round trip 540 ms -> 36 ms).
///             A non-empty tensor's pieces are non-empty; an empty tensor is one empty frame.
///
/// The archive must fill frame 0 exactly; adding a field means bumping the version.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "net/message.hpp"

namespace troupe::net {

inline constexpr std::array<char, 4> protocol_magic{'T', 'R', 'P', '1'};
/// 2: the recipients moved from meta's "to" into the header. 3: a tensor may travel in pieces.
/// A peer of another version is refused with both versions named.
inline constexpr std::uint16_t protocol_version = 3;
inline constexpr std::size_t header_prefix_bytes = 8;

/// Bounds a decoder enforces before it allocates anything.
struct limits {
  std::size_t max_header_bytes = 64 * 1024; ///< size of frame 0
  std::size_t max_frames = 64;              ///< header frame + tensor frames
  std::size_t max_tensor_rank = 8;
  std::uint64_t max_message_bytes = 256ULL * 1024 * 1024; ///< sum of the tensor frames
  std::size_t max_recipients = 64;                        ///< names in header.to
  std::size_t max_pieces = 4096;                          ///< tensor frames after the header, counting every piece
};

class buffer_pool;

/// Where decode() puts a tensor that arrived in pieces: a buffer from `pool` (a plain allocation
/// when null), which also holds `keep` until the tensor is released.
struct assembly {
  buffer_pool* pool = nullptr;
  std::shared_ptr<void> keep;
};

/// Why a received message was refused, and a sentence that says exactly what was wrong.
struct decode_error {
  enum reason : std::uint8_t {
    bad_magic,
    bad_version,
    wrong_cluster,
    truncated_header,
    bad_header,
    unknown_type,
    too_many_frames,
    frame_count_mismatch,
    frame_size_mismatch,
    too_large,
    bad_shape,
    unauthenticated, ///< the transport could not vouch for the sender: failed CURVE handshake, unknown key, wrong name
    flooding,        ///< the peer has more unprocessed bytes in this node than van_options::max_peer_inflight_bytes
  };
  static constexpr std::size_t reason_count = flooding + 1;

  reason code = bad_header;
  std::string detail;
};

/// "frame_size_mismatch" etc.
std::string to_string(decode_error::reason r);

/// Either a decoded message or the reason it was refused.
class decode_result {
public:
  decode_result(message m) : v_(std::move(m)) {}
  decode_result(decode_error e) : v_(std::move(e)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  /// The message; throws troupe::error with the decode error's detail if there is none.
  message& value() &;
  message&& value() &&;
  /// The error; throws troupe::error if decoding succeeded.
  const decode_error& error() const;

private:
  std::variant<message, decode_error> v_;
};

/// Frame 0 for a header; throws troupe::error if a field cannot be encoded (rank > 255).
std::string encode_header(const header& h);

/// Checks that a message would be accepted by a decoder with these limits (cluster aside).
std::optional<decode_error> validate(const message& m, const limits& lim);

/// All frames of a message: the header frame, then the tensor payloads, shared (not copied). With
/// `piece_bytes` > 0 a tensor larger than max(piece_bytes, whole_up_to) bytes travels as pieces of
/// `piece_bytes` (slices of the same buffer, still not copied). Throws troupe::error if the message
/// fails validate() or would need more than lim.max_pieces frames.
std::vector<payload> encode(const message& m, const limits& lim = {}, std::size_t piece_bytes = 0,
                            std::size_t whole_up_to = 0);

/// Decodes frames strictly: never throws on bad input, never allocates from an unchecked length.
/// A tensor in one frame is kept as given (zero-copy) unless misaligned for its dtype, then copied;
/// a tensor in pieces is assembled into one buffer as `where` says.
decode_result decode(std::vector<payload> frames, const limits& lim, std::uint64_t expected_cluster_id,
                     const assembly& where = {});

/// Stable 64-bit FNV-1a hash of the cluster name, the cluster id every header carries.
std::uint64_t cluster_id_of(const std::string& name);

} // namespace troupe::net
