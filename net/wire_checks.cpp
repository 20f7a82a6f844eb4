#include "net/wire_checks.hpp"

#include <fmt/format.h>

namespace troupe::net::detail {

std::optional<decode_error> check_tensor(const tensor_desc& t, std::size_t index, const limits& lim,
                                         std::uint64_t& total) {
  const auto shape = [&] { return fmt::format("[{}]", fmt::join(t.shape, ", ")); };
  if (t.shape.size() > lim.max_tensor_rank)
    return decode_error{decode_error::bad_shape, fmt::format("tensor {} '{}' has rank {}, the limit is {}", index,
                                                             t.name, t.shape.size(), lim.max_tensor_rank)};
  if (!dtype_from_wire(static_cast<std::uint8_t>(t.type)))
    return decode_error{decode_error::bad_header, fmt::format("tensor {} '{}' has unknown dtype {}", index, t.name,
                                                              static_cast<unsigned>(t.type))};
  std::uint64_t bytes = element_size(t.type);
  for (auto d : t.shape)
    if (__builtin_mul_overflow(bytes, std::uint64_t{d}, &bytes))
      return decode_error{decode_error::too_large,
                          fmt::format("tensor {} '{}' {} overflows a 64-bit byte count", index, t.name, shape())};
  if (__builtin_add_overflow(total, bytes, &total) || total > lim.max_message_bytes)
    return decode_error{decode_error::too_large,
                        fmt::format("tensor {} '{}' {} {} brings the message to more than the limit of {} bytes", index,
                                    t.name, shape(), to_string(t.type), lim.max_message_bytes)};
  return std::nullopt;
}

std::optional<decode_error> check_frames(const std::vector<tensor_desc>& tensors, const std::vector<payload>& frames,
                                         std::size_t first_frame) {
  if (tensors.size() != frames.size())
    return decode_error{
        decode_error::frame_count_mismatch,
        fmt::format("header lists {} tensors but {} tensor frames follow", tensors.size(), frames.size())};
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    // check_tensor ran first, so bytes() cannot overflow here.
    const auto need = tensors[i].bytes();
    if (frames[i].size() != need)
      return decode_error{decode_error::frame_size_mismatch,
                          fmt::format("frame {} has {} bytes but tensor {} needs {}", i + first_frame, frames[i].size(),
                                      tensors[i].describe(), need)};
  }
  return std::nullopt;
}

} // namespace troupe::net::detail
