#include "common/byte_cursor.hpp"

#include <cstdint>
#include <limits>
#include <string>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "common/little_endian.hpp"

using Catch::Contains;
using Catch::StartsWith;
using namespace troupe;

namespace {

/// what() of the troupe::error `f` throws; fails the test if it throws none.
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const error& e) {
    return e.what();
  }
  FAIL("expected a troupe::error, but nothing was thrown");
  return {};
}

} // namespace

TEST_CASE("byte_cursor reads little-endian integers, floats and bytes in order", "[common][byte_cursor]") {
  std::string b;
  append_le<std::uint8_t>(b, 0xab);
  append_le<std::uint16_t>(b, 0x1234);
  append_le<std::uint32_t>(b, 0xdeadbeefu);
  append_le<std::uint64_t>(b, 0x0102030405060708ULL);
  append_le<std::int32_t>(b, -2);
  append_le(b, 1.5f);
  append_le(b, -0.25);
  b += "tail";
  // The byte order is explicit, not the host's.
  CHECK(b.substr(1, 2) == std::string("\x34\x12", 2));
  CHECK(b.substr(3, 4) == std::string("\xef\xbe\xad\xde", 4));

  byte_cursor c(b.data(), b.size(), "test");
  CHECK(c.size() == b.size());
  CHECK(c.read<std::uint8_t>("u8") == 0xab);
  CHECK(c.read<std::uint16_t>("u16") == 0x1234);
  CHECK(c.position() == 3);
  CHECK(c.read<std::uint32_t>("u32") == 0xdeadbeefu);
  CHECK(c.read<std::uint64_t>("u64") == 0x0102030405060708ULL);
  CHECK(c.read<std::int32_t>("i32") == -2);
  CHECK(c.read<float>("f32") == 1.5f);
  CHECK(c.read<double>("f64") == -0.25);
  CHECK(c.remaining() == 4);
  CHECK(std::string(c.bytes(4, "tail"), 4) == "tail");
  CHECK(c.remaining() == 0);
  CHECK(c.position() == b.size());
}

TEST_CASE("byte_cursor hands out counted items without copying", "[common][byte_cursor]") {
  std::string b;
  for (const float f : {1.f, 2.f, 3.f})
    append_le(b, f);
  byte_cursor c(b.data(), b.size(), "test");
  const char* p = c.items(2, sizeof(float), "two floats");
  CHECK(p == b.data());
  CHECK(load_le<float>(p + 4) == 2.f);
  CHECK(c.items(0, sizeof(float), "no floats") == b.data() + 8);
  CHECK(c.items(1, sizeof(float), "one float") == b.data() + 8);
  CHECK(c.remaining() == 0);
}

TEST_CASE("byte_cursor refuses to read past the end and says what and where", "[common][byte_cursor]") {
  const std::string b = "0123456789"; // 10 bytes
  byte_cursor c(b.data(), b.size(), "f.bin: truncated file");
  c.bytes(4, "prefix");

  SECTION("a fixed-size field") {
    CHECK(error_message([&] { c.read<std::uint64_t>("the length"); }) ==
          "f.bin: truncated file: the length needs 8 bytes at offset 4, only 6 left");
  }
  SECTION("a run of bytes") {
    CHECK_THAT(error_message([&] { c.bytes(7, "the name"); }),
               StartsWith("f.bin: truncated file: ") && Contains("the name needs 7 bytes at offset 4, only 6 left"));
  }
  SECTION("a count read from the data") {
    CHECK(error_message([&] { c.items(2, 4, "parameters"); }) ==
          "f.bin: truncated file: parameters claims 2 x 4 bytes at offset 4, only 6 left");
  }
  SECTION("a count whose byte size would wrap around 64 bits") {
    const std::uint64_t huge = std::numeric_limits<std::uint64_t>::max() / 4 + 2; // x 4 wraps to 4
    CHECK_THAT(error_message([&] { c.items(huge, 4, "parameters"); }), Contains("parameters claims"));
  }
  // A refused read consumes nothing.
  CHECK(c.position() == 4);
  CHECK(c.remaining() == 6);
  CHECK(std::string(c.bytes(6, "rest"), 6) == "456789");
}

TEST_CASE("byte_cursor over nothing reads nothing", "[common][byte_cursor]") {
  byte_cursor c(nullptr, 0, "empty");
  CHECK(c.remaining() == 0);
  CHECK_NOTHROW(c.items(0, 8, "nothing"));
  CHECK_THAT(error_message([&] { c.read<std::uint8_t>("a byte"); }),
             Contains("empty: a byte needs 1 bytes at offset 0, only 0 left"));
}

TEST_CASE("little-endian store and load round-trip every width", "[common][byte_cursor]") {
  unsigned char b[8];
  store_le<std::uint64_t>(b, 0x8877665544332211ULL);
  CHECK(b[0] == 0x11);
  CHECK(b[7] == 0x88);
  CHECK(load_le<std::uint64_t>(b) == 0x8877665544332211ULL);
  CHECK(load_le<std::uint32_t>(b) == 0x44332211u);
  CHECK(load_le<std::uint16_t>(b) == 0x2211u);
  CHECK(load_le<std::int8_t>(b + 7) == static_cast<std::int8_t>(0x88));
  store_le(b, -1.0f);
  CHECK(b[3] == 0xbf); // sign and exponent in the last byte
  CHECK(load_le<float>(b) == -1.0f);
}
