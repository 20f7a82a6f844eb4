#pragma once
/// An optimizer's resumable state and its binary (checkpoint) encoding.

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace troupe::optim {

/// Everything an optimizer needs to continue bit-for-bit: its kind, step count and named buffers.
///
/// Buffer names are "<parameter>.<slot>", e.g. "fc1.weight.exp_avg".
struct optimizer_state {
  std::string kind;
  std::uint64_t step = 0;
  std::map<std::string, std::vector<float>> buffers;
};

/// The format version write_optimizer_state produces and read_optimizer_state accepts.
inline constexpr std::uint32_t optimizer_state_version = 1;

/// Longest kind or buffer name the encoding accepts, in bytes.
inline constexpr std::size_t optimizer_state_max_name = 4096;

/// Largest buffer the encoding accepts, in floats.
inline constexpr std::uint64_t optimizer_state_max_floats = std::uint64_t{1} << 31;

/// Appends `state` to `out` as one little-endian record: magic, version, fields, CRC-32.
///
/// Layout (version 1): "TRPOPT" | u32 version | u32 kind length, kind | u64 step |
/// u64 buffer count | per buffer: u32 name length, name, u64 float count, f32 values |
/// u32 CRC-32 of every byte after the version. Throws if a limit is exceeded or the write fails.
void write_optimizer_state(std::ostream& out, const optimizer_state& state);

/// Reads one record written by write_optimizer_state, leaving `in` just after it.
///
/// Throws troupe::error on a wrong magic or version, a length over its limit or over what the
/// stream still holds, truncation, an empty or duplicate name, or a checksum mismatch; it never
/// allocates more than the stream actually provides.
optimizer_state read_optimizer_state(std::istream& in);

} // namespace troupe::optim
