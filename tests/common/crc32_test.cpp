#include "common/crc32.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace troupe;

namespace {

/// CRC-32 (IEEE, reflected) bit by bit: an implementation independent of the one under test.
std::uint32_t reference_crc(const std::string& s) {
  std::uint32_t crc = 0xffffffffu;
  for (const char ch : s) {
    crc ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k)
      crc = (crc & 1u) ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
  }
  return ~crc;
}

} // namespace

TEST_CASE("crc32_of gives the published check values", "[common][crc32]") {
  const std::string check = "123456789";
  CHECK(crc32_of(check.data(), check.size()) == 0xCBF43926u);
  CHECK(crc32_of(nullptr, 0) == 0u);
  const std::string fox = "The quick brown fox jumps over the lazy dog";
  CHECK(crc32_of(fox.data(), fox.size()) == 0x414FA339u);
  const std::string a = "a";
  CHECK(crc32_of(a.data(), a.size()) == 0xE8B7BE43u);
}

TEST_CASE("crc32_of agrees with a bitwise reference on every byte value and length", "[common][crc32]") {
  std::string bytes;
  for (int i = 0; i < 1000; ++i)
    bytes += static_cast<char>((i * 131 + 7) & 0xff);
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{255}, std::size_t{256},
                              std::size_t{999}, bytes.size()})
    CHECK(crc32_of(bytes.data(), n) == reference_crc(bytes.substr(0, n)));
}

TEST_CASE("incremental CRC-32 equals the one-shot CRC-32 however the bytes are split", "[common][crc32]") {
  std::string bytes;
  for (int i = 0; i < 4099; ++i)
    bytes += static_cast<char>((i * 7919) >> 3);
  const std::uint32_t whole = crc32_of(bytes.data(), bytes.size());
  const std::size_t piece = GENERATE(1, 2, 3, 64, 1000, 4099, 5000);

  SECTION("crc32_update") {
    std::uint32_t crc = 0;
    for (std::size_t at = 0; at < bytes.size(); at += piece)
      crc = crc32_update(crc, bytes.data() + at, std::min(piece, bytes.size() - at));
    CHECK(crc == whole);
  }
  SECTION("crc32_accumulator") {
    crc32_accumulator acc;
    CHECK(acc.value() == 0u);
    for (std::size_t at = 0; at < bytes.size(); at += piece)
      acc.update(bytes.data() + at, std::min(piece, bytes.size() - at));
    acc.update(nullptr, 0); // nothing changes nothing
    CHECK(acc.value() == whole);
  }
}
