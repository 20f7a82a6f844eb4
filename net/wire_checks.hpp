#pragma once
/// Checks shared by the encoder and the strict decoder, so both accept exactly the same messages.
/// Internal to net/: not part of the public API.

#include <cstdint>
#include <optional>
#include <vector>

#include "net/codec.hpp"

namespace troupe::net::detail {

/// Checks rank, element count and byte size of tensor `index`, adding its bytes to `total`
/// (which must stay within lim.max_message_bytes). Uses only overflow-checked arithmetic.
std::optional<decode_error> check_tensor(const tensor_desc& t, std::size_t index, const limits& lim,
                                         std::uint64_t& total);

/// Checks that there is one tensor frame per descriptor and that each has exactly its byte size.
/// `first_frame` is the wire index of frames[0] (1 when frame 0 is the header).
std::optional<decode_error> check_frames(const std::vector<tensor_desc>& tensors, const std::vector<payload>& frames,
                                         std::size_t first_frame);

} // namespace troupe::net::detail
