#include "net/message.hpp"

#include <cstring>

#include "common/error.hpp"

namespace troupe::net {

std::string to_string(msg_type t) {
  switch (t) {
#define TROUPE_NET_X(name, value)                                                                                      \
  case msg_type::name:                                                                                                 \
    return #name;
    TROUPE_NET_MESSAGE_TYPES(TROUPE_NET_X)
#undef TROUPE_NET_X
  }
  return fmt::format("msg_type({})", static_cast<unsigned>(t));
}

std::optional<msg_type> msg_type_from_wire(std::uint16_t value) {
  switch (value) {
#define TROUPE_NET_X(name, v)                                                                                          \
  case v:                                                                                                              \
    return msg_type::name;
    TROUPE_NET_MESSAGE_TYPES(TROUPE_NET_X)
#undef TROUPE_NET_X
  }
  return std::nullopt;
}

const std::vector<msg_type>& all_msg_types() {
  static const std::vector<msg_type> all{
#define TROUPE_NET_X(name, value) msg_type::name,
      TROUPE_NET_MESSAGE_TYPES(TROUPE_NET_X)
#undef TROUPE_NET_X
  };
  return all;
}

std::size_t element_size(dtype t) {
  switch (t) {
  case dtype::f32:
  case dtype::i32:
    return 4;
  case dtype::u8:
    return 1;
  case dtype::u16:
    return 2;
  }
  TROUPE_ENFORCE(false, "unknown dtype {}", static_cast<unsigned>(t));
  return 0;
}

std::string to_string(dtype t) {
  switch (t) {
  case dtype::f32:
    return "f32";
  case dtype::i32:
    return "i32";
  case dtype::u8:
    return "u8";
  case dtype::u16:
    return "u16";
  }
  return fmt::format("dtype({})", static_cast<unsigned>(t));
}

std::optional<dtype> dtype_from_wire(std::uint8_t value) {
  switch (value) {
  case static_cast<std::uint8_t>(dtype::f32):
    return dtype::f32;
  case static_cast<std::uint8_t>(dtype::i32):
    return dtype::i32;
  case static_cast<std::uint8_t>(dtype::u8):
    return dtype::u8;
  case static_cast<std::uint8_t>(dtype::u16):
    return dtype::u16;
  default:
    return std::nullopt;
  }
}

std::uint64_t tensor_desc::elements() const {
  std::uint64_t n = 1;
  for (auto d : shape)
    TROUPE_ENFORCE(!__builtin_mul_overflow(n, std::uint64_t{d}, &n), "tensor {} has more than 2^64 elements",
                   describe());
  return n;
}

std::uint64_t tensor_desc::bytes() const {
  std::uint64_t b = 0;
  TROUPE_ENFORCE(!__builtin_mul_overflow(elements(), std::uint64_t{element_size(type)}, &b),
                 "tensor {} has more than 2^64 bytes", describe());
  return b;
}

std::string tensor_desc::describe() const {
  return fmt::format("'{}' [{}] {}", name, fmt::join(shape, ", "), to_string(type));
}

payload payload::copy_of(const void* data, std::size_t size) {
  // uint64 words give the copy 8-byte alignment, whatever the source had.
  auto words = std::make_shared<std::vector<std::uint64_t>>((size + 7) / 8);
  if (size != 0)
    std::memcpy(words->data(), data, size);
  const auto* p = reinterpret_cast<const std::byte*>(words->data());
  return payload(std::shared_ptr<const void>(std::move(words)), p, size);
}

payload payload::from_string(std::string bytes) {
  auto s = std::make_shared<const std::string>(std::move(bytes));
  const auto* p = reinterpret_cast<const std::byte*>(s->data());
  const std::size_t n = s->size();
  return payload(std::shared_ptr<const void>(std::move(s)), p, n);
}

std::optional<std::size_t> message::find(std::string_view name) const {
  for (std::size_t i = 0; i < h.tensors.size(); ++i)
    if (h.tensors[i].name == name)
      return i;
  return std::nullopt;
}

std::uint64_t message::payload_bytes() const {
  std::uint64_t n = 0;
  for (const auto& f : frames)
    n += f.size();
  return n;
}

void message::add_frame(tensor_desc desc, std::size_t count, payload p) {
  TROUPE_ENFORCE(frames.size() == h.tensors.size(), "message has {} frames for {} tensors", frames.size(),
                 h.tensors.size());
  TROUPE_ENFORCE(desc.elements() == count, "tensor {} needs {} elements, got {}", desc.describe(), desc.elements(),
                 count);
  h.tensors.push_back(std::move(desc));
  frames.push_back(std::move(p));
}

std::size_t message::checked_frame(std::size_t i, dtype want, std::size_t align) const {
  TROUPE_ENFORCE(i < h.tensors.size() && i < frames.size(), "tensor {} requested, message has {} tensors and {} frames",
                 i, h.tensors.size(), frames.size());
  const auto& d = h.tensors[i];
  TROUPE_ENFORCE(d.type == want, "tensor {} viewed as {}", d.describe(), to_string(want));
  TROUPE_ENFORCE(frames[i].size() == d.bytes(), "frame {} has {} bytes but tensor {} needs {}", i, frames[i].size(),
                 d.describe(), d.bytes());
  TROUPE_ENFORCE(reinterpret_cast<std::uintptr_t>(frames[i].data()) % align == 0, "tensor {} is not {}-byte aligned",
                 d.describe(), align);
  return static_cast<std::size_t>(d.elements());
}

} // namespace troupe::net
