/// libFuzzer target: net::decode on a multi-frame message built from the input.
///
/// Input layout (also written by fuzz/make_corpus.cpp and described in docs/fuzzing.md):
///   byte 0            misalignment mask: bit i set = frame i starts 1 byte past an aligned address
///   then per frame    u16 little-endian length, then that many bytes (the last frame may be cut short)
/// Each frame gets its own exactly-sized heap block, so ASan sees any read past a frame's end.
/// A message that decodes must view cleanly and survive encode -> decode unchanged.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/error.hpp"
#include "fuzz/frames.hpp"
#include "net/codec.hpp"

namespace {

using namespace troupe::net;

/// The cluster id every seed carries: cluster_id_of("fuzz").
const std::uint64_t fuzz_cluster = cluster_id_of("fuzz");

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_codec: %s\n", what);
  std::abort();
}

/// Reads every element of every tensor through the typed views the actors use.
std::uint64_t touch(const message& m) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < m.h.tensors.size(); ++i) {
    switch (m.h.tensors[i].type) {
    case dtype::f32:
      for (float v : m.view<float>(i)) {
        std::uint32_t bits;
        std::memcpy(&bits, &v, 4);
        sum += bits;
      }
      break;
    case dtype::i32:
      for (std::int32_t v : m.view<std::int32_t>(i))
        sum += static_cast<std::uint32_t>(v);
      break;
    case dtype::u8:
      for (std::uint8_t v : m.view<std::uint8_t>(i))
        sum += v;
      break;
    case dtype::u16:
      for (std::uint16_t v : m.view<std::uint16_t>(i))
        sum += v;
      break;
    }
  }
  return sum;
}

bool same_bytes(const payload& a, const payload& b) {
  return a.size() == b.size() && (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const limits lim;
  decode_result r = decode(troupe::fuzz::split_frames(data, size), lim, fuzz_cluster);
  if (!r) {
    if (r.error().detail.empty())
      fail("a refused message must say why");
    return 0;
  }
  const message& m = r.value();
  if (m.frames.size() != m.h.tensors.size())
    fail("decoded message has a frame count that differs from its tensor count");
  volatile std::uint64_t sink = touch(m);
  (void)sink;

  // Round trip: whatever decodes must encode again and decode to the same header and bytes.
  std::vector<payload> again;
  try {
    again = encode(m, lim);
  } catch (const troupe::error& e) {
    std::fprintf(stderr, "fuzz_codec: a decoded message does not encode: %s\n", e.what());
    std::abort();
  }
  decode_result r2 = decode(std::move(again), lim, fuzz_cluster);
  if (!r2) {
    std::fprintf(stderr, "fuzz_codec: re-encoded message refused: %s: %s\n", to_string(r2.error().code).c_str(),
                 r2.error().detail.c_str());
    std::abort();
  }
  const message& m2 = r2.value();
  if (!(m2.h == m.h))
    fail("re-encoded message decodes to another header");
  for (std::size_t i = 0; i < m.frames.size(); ++i)
    if (!same_bytes(m.frames[i], m2.frames[i]))
      fail("re-encoded message decodes to other tensor bytes");
  return 0;
}
