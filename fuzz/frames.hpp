#pragma once
/// The frame layout the message fuzz targets (fuzz_codec, fuzz_protocol) share, also written by
/// fuzz/make_corpus.cpp: byte 0 is a misalignment mask (bit i set = frame i starts 1 byte past an
/// aligned address), then per frame a u16 little-endian length and that many bytes (the last
/// frame may be cut short). Each frame gets its own exactly-sized heap block, so ASan sees any
/// read past a frame's end.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "net/message.hpp"

namespace troupe::fuzz {

inline net::payload frame_copy(const std::uint8_t* data, std::size_t size, bool misalign) {
  const std::size_t shift = misalign ? 1 : 0;
  std::shared_ptr<std::byte[]> block(new std::byte[size + shift]);
  if (size != 0)
    std::memcpy(block.get() + shift, data, size);
  const std::byte* p = block.get() + shift;
  return net::payload(std::shared_ptr<const void>(block, block.get()), p, size);
}

inline std::vector<net::payload> split_frames(const std::uint8_t* data, std::size_t size) {
  std::vector<net::payload> frames;
  if (size == 0)
    return frames;
  const std::uint8_t mask = data[0];
  std::size_t pos = 1;
  while (pos + 2 <= size) {
    const std::size_t want = data[pos] | (std::size_t{data[pos + 1]} << 8);
    pos += 2;
    const std::size_t n = want < size - pos ? want : size - pos;
    const bool misalign = frames.size() < 8 && ((mask >> frames.size()) & 1U) != 0;
    frames.push_back(frame_copy(data + pos, n, misalign));
    pos += n;
  }
  return frames;
}

} // namespace troupe::fuzz
