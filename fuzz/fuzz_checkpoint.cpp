/// libFuzzer target: train::decode_checkpoint, the reader of checkpoint files.
///
/// Input: byte 0 is a mode, the rest is the file. Mode bit 0 set: the harness rewrites the
/// CRC-32 trailer to match the body, so mutations get past the checksum into the JSON header,
/// the parameters and the optimizer state (a fuzzer cannot forge a CRC by itself).
/// A checkpoint that decodes must encode again, and that encoding must decode to itself.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/crc32.hpp"
#include "common/error.hpp"
#include "common/little_endian.hpp"
#include "train/checkpoint.hpp"

namespace {

using namespace troupe;

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_checkpoint: %s %s\n", what, detail.c_str());
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  const bool fix_crc = (data[0] & 1U) != 0;
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (fix_crc && bytes.size() >= 4) {
    store_le(bytes.data() + bytes.size() - 4, crc32_of(bytes.data(), bytes.size() - 4));
  }

  train::training_state s;
  try {
    s = train::decode_checkpoint(bytes, "fuzz.ckpt");
  } catch (const error& e) {
    if (std::strncmp(e.what(), "fuzz.ckpt: ", 11) != 0)
      fail("an error does not start with the file name:", e.what());
    return 0;
  }

  // Every accepted shape must have the element count the layout records, without wrapping around.
  unsigned __int128 total = 0;
  for (const auto& e : s.layout.entries) {
    unsigned __int128 n = 1;
    for (const auto d : e.shape) {
      n *= d;
      if (n > UINT64_MAX)
        fail("accepted a parameter whose element count overflows 64 bits:", e.name);
    }
    if (n != e.size)
      fail("accepted a parameter whose size differs from its shape:", e.name);
    total += n;
  }
  if (total != s.params.size())
    fail("accepted a layout whose sizes do not add up to the parameter count");

  // What the reader accepted, the writer must write, and the result must read back identically.
  std::string once;
  try {
    once = train::encode_checkpoint(s);
  } catch (const error& e) {
    fail("an accepted checkpoint cannot be written again:", e.what());
  }
  std::string twice;
  try {
    twice = train::encode_checkpoint(train::decode_checkpoint(once, "re-encoded"));
  } catch (const error& e) {
    fail("a re-encoded checkpoint is refused:", e.what());
  }
  if (once != twice)
    fail("a re-encoded checkpoint does not read back to the same bytes");
  return 0;
}
