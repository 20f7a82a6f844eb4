#pragma once
/// A Troupe message: one small header frame plus raw tensor frames (ps-lite's "Van" layout).
///
/// Tensor bytes never pass through an archive: each tensor travels as its own ZeroMQ frame,
/// and a `payload` can share a caller's buffer so the transport sends it without a copy.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace troupe::net {

/// Every message type with its wire number. New types go at the end; a number is never reused.
/// `ping` and `pong` are the vans' own round-trip probe (net/peer_table.hpp): a van answers a ping
/// itself and never hands either to its handler.
#define TROUPE_NET_MESSAGE_TYPES(X)                                                                                    \
  X(hello, 1)                                                                                                          \
  X(welcome, 2)                                                                                                        \
  X(reject, 3)                                                                                                         \
  X(heartbeat, 4)                                                                                                      \
  X(push_gradient, 5)                                                                                                  \
  X(pull_params, 6)                                                                                                    \
  X(params, 7)                                                                                                         \
  X(request_batches, 8)                                                                                                \
  X(batch, 9)                                                                                                          \
  X(end_of_epoch, 10)                                                                                                  \
  X(eval_request, 11)                                                                                                  \
  X(eval_result, 12)                                                                                                   \
  X(metrics, 13)                                                                                                       \
  X(shutdown, 14)                                                                                                      \
  X(ack, 15)                                                                                                           \
  X(ping, 16)                                                                                                          \
  X(pong, 17)                                                                                                          \
  X(balance_cuts, 18)

enum class msg_type : std::uint16_t {
#define TROUPE_NET_X(name, value) name = value,
  TROUPE_NET_MESSAGE_TYPES(TROUPE_NET_X)
#undef TROUPE_NET_X
};

/// "push_gradient"; "msg_type(77)" for a number no type has.
std::string to_string(msg_type t);

/// The message type a wire number stands for, or nothing if no type has that number.
std::optional<msg_type> msg_type_from_wire(std::uint16_t value);

/// Every known message type, in wire-number order (for tests and tables).
const std::vector<msg_type>& all_msg_types();

/// Element type of a tensor frame; values are the wire encoding. New types go at the end. u16
/// carries 16-bit floats (fp16 / bf16 bit patterns: job.compression) without saying which: the
/// tensor's name does.
enum class dtype : std::uint8_t { f32 = 1, i32 = 2, u8 = 3, u16 = 4 };

/// Bytes per element: 4, 4, 1, 2.
std::size_t element_size(dtype t);

/// "f32", "i32", "u8", "u16"; "dtype(9)" for an unknown value.
std::string to_string(dtype t);

/// The dtype a wire byte stands for, or nothing.
std::optional<dtype> dtype_from_wire(std::uint8_t value);

/// The dtype of a C++ element type (float, std::int32_t, std::uint8_t, std::uint16_t).
template <class T>
constexpr dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return dtype::f32;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return dtype::i32;
  else if constexpr (std::is_same_v<T, std::uint16_t>)
    return dtype::u16;
  else {
    static_assert(std::is_same_v<T, std::uint8_t>,
                  "tensor elements are float, std::int32_t, std::uint8_t or std::uint16_t");
    return dtype::u8;
  }
}

/// Name, element type and shape of one tensor frame.
struct tensor_desc {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::uint32_t> shape;

  /// Product of the shape (1 for a scalar); throws troupe::error on 64-bit overflow.
  std::uint64_t elements() const;
  /// elements() * element_size(type); throws troupe::error on 64-bit overflow.
  std::uint64_t bytes() const;
  /// "'w' [10, 30] f32" for error messages.
  std::string describe() const;

  friend bool operator==(const tensor_desc& a, const tensor_desc& b) {
    return a.name == b.name && a.type == b.type && a.shape == b.shape;
  }
};

/// The fields of the header frame.
struct header {
  std::uint64_t cluster_id = 0; ///< cluster_id_of(cluster name); the van stamps it
  msg_type type = msg_type::heartbeat;
  std::string sender;               ///< node name of the sender; the van stamps it
  std::uint64_t seq = 0;            ///< per-sender sequence number; the van stamps it
  std::uint64_t clock = 0;          ///< the clock the message is about (the protocol above says which)
  std::uint64_t step = 0;           ///< a parameter version (the protocol above says which)
  std::vector<tensor_desc> tensors; ///< one per tensor frame, in frame order
  std::string meta;                 ///< small JSON or text for control messages
  /// The actors on the destination node that receive the message (one, or several sharing it):
  /// the router reads them here, never in meta.
  std::vector<std::string> to;

  friend bool operator==(const header& a, const header& b) {
    return a.cluster_id == b.cluster_id && a.type == b.type && a.sender == b.sender && a.seq == b.seq &&
           a.clock == b.clock && a.step == b.step && a.tensors == b.tensors && a.meta == b.meta && a.to == b.to;
  }
};

/// The bytes of one frame, kept alive by a shared owner so they can be sent without a copy.
///
/// The bytes are immutable from the moment they are wrapped: over inproc:// the receiver reads
/// the very same memory, so whoever shares a buffer must never write to it again.
class payload {
public:
  payload() = default;
  /// Views [data, data + size), which `owner` keeps alive.
  payload(std::shared_ptr<const void> owner, const std::byte* data, std::size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}

  /// A payload owning a fresh copy of the bytes (8-byte aligned).
  static payload copy_of(const void* data, std::size_t size);
  /// A payload owning the string's bytes (moved, not copied).
  static payload from_string(std::string bytes);
  /// A payload sharing a vector's elements; the vector is kept alive, not copied.
  template <class T>
  static payload share(std::shared_ptr<const std::vector<T>> v) {
    const auto* p = reinterpret_cast<const std::byte*>(v->data());
    const std::size_t n = v->size() * sizeof(T);
    return payload(std::move(v), p, n);
  }

  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  const std::shared_ptr<const void>& owner() const noexcept { return owner_; }
  std::string_view view() const noexcept { return {reinterpret_cast<const char*>(data_), size_}; }

private:
  std::shared_ptr<const void> owner_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// A validated, typed view of one tensor frame.
template <class T>
struct tensor_view {
  const T* data = nullptr;
  std::size_t size = 0; ///< element count
  const tensor_desc* desc = nullptr;

  const T* begin() const { return data; }
  const T* end() const { return data + size; }
  const T& operator[](std::size_t i) const { return data[i]; }
};

/// A header plus one payload per tensor descriptor (frames[i] holds h.tensors[i]).
struct message {
  header h;
  std::vector<payload> frames;

  message() = default;
  explicit message(msg_type t) { h.type = t; }

  /// Appends a tensor that shares `data` (zero-copy); the buffer must not change afterwards.
  template <class Vec>
  void add_tensor(std::string name, std::vector<std::uint32_t> shape, std::shared_ptr<Vec> data) {
    using elem = typename std::remove_const_t<Vec>::value_type;
    static_assert(std::is_same_v<std::remove_const_t<Vec>, std::vector<elem>>, "share a std::vector");
    const std::size_t count = data->size();
    add_frame({std::move(name), dtype_of<elem>(), std::move(shape)}, count,
              payload::share(std::shared_ptr<const std::vector<elem>>(std::move(data))));
  }
  /// Appends a tensor that takes over `data` without copying it.
  template <class T>
  void add_tensor(std::string name, std::vector<std::uint32_t> shape, std::vector<T>&& data) {
    add_tensor(std::move(name), std::move(shape), std::make_shared<const std::vector<T>>(std::move(data)));
  }
  /// Appends a tensor viewing `count` elements at `data` (zero-copy), which `owner` keeps alive and
  /// which must not change afterwards: a slice of a shared buffer.
  template <class T>
  void add_tensor_view(std::string name, std::vector<std::uint32_t> shape, std::shared_ptr<const void> owner,
                       const T* data, std::size_t count) {
    add_frame({std::move(name), dtype_of<T>(), std::move(shape)}, count,
              payload(std::move(owner), reinterpret_cast<const std::byte*>(data), count * sizeof(T)));
  }
  /// Appends a tensor holding a copy of `count` elements at `data`.
  template <class T>
  void add_tensor_copy(std::string name, std::vector<std::uint32_t> shape, const T* data, std::size_t count) {
    add_frame({std::move(name), dtype_of<T>(), std::move(shape)}, count, payload::copy_of(data, count * sizeof(T)));
  }

  /// Tensor i as T after checking dtype, frame size and alignment; throws troupe::error if wrong.
  template <class T>
  tensor_view<T> view(std::size_t i) const {
    const std::size_t n = checked_frame(i, dtype_of<T>(), alignof(T));
    return {reinterpret_cast<const T*>(frames[i].data()), n, &h.tensors[i]};
  }
  /// Index of the first tensor with that name, or nothing.
  std::optional<std::size_t> find(std::string_view name) const;
  /// Sum of the tensor frame sizes.
  std::uint64_t payload_bytes() const;

private:
  void add_frame(tensor_desc desc, std::size_t count, payload p);
  std::size_t checked_frame(std::size_t i, dtype want, std::size_t align) const;
};

} // namespace troupe::net
