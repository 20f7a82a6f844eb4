#include "tensor/optim/optimizer_state.hpp"

#include <cstring>
#include <limits>
#include <sstream>
#include <streambuf>
#include <string>

#include <catch2/catch.hpp>

#include "error_message.hpp"

using Catch::Matchers::Contains;
using troupe::optim::optimizer_state;
using troupe::optim::read_optimizer_state;
using troupe::optim::write_optimizer_state;
using troupe::optim::test::error_message;

namespace {

optimizer_state sample_state() {
  optimizer_state s;
  s.kind = "adam";
  s.step = 123456789012ULL;
  s.buffers["fc.weight.exp_avg"] = {1.5f, -0.0f, std::numeric_limits<float>::denorm_min(), 3e38f};
  s.buffers["fc.weight.exp_avg_sq"] = {0.25f, 0.0f, 1e-30f, 7.0f};
  s.buffers["empty.exp_avg"] = {};
  return s;
}

std::string encode(const optimizer_state& s) {
  std::ostringstream out;
  write_optimizer_state(out, s);
  return out.str();
}

optimizer_state decode(const std::string& bytes) {
  std::istringstream in(bytes);
  return read_optimizer_state(in);
}

void put_u32(std::string& bytes, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    bytes[at + i] = static_cast<char>(v >> (8 * i));
}

void put_u64(std::string& bytes, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    bytes[at + i] = static_cast<char>(v >> (8 * i));
}

bool bitwise_equal(const optimizer_state& a, const optimizer_state& b) {
  if (a.kind != b.kind || a.step != b.step || a.buffers.size() != b.buffers.size())
    return false;
  for (const auto& [name, values] : a.buffers) {
    const auto it = b.buffers.find(name);
    if (it == b.buffers.end() || it->second.size() != values.size() ||
        (!values.empty() && std::memcmp(values.data(), it->second.data(), values.size() * sizeof(float)) != 0))
      return false;
  }
  return true;
}

/// A stream buffer over a string that cannot seek, like a pipe or socket.
class unseekable_buf : public std::streambuf {
public:
  explicit unseekable_buf(std::string bytes) : bytes_(std::move(bytes)) {
    setg(bytes_.data(), bytes_.data(), bytes_.data() + bytes_.size());
  }

private:
  std::string bytes_;
};

// Offsets in the encoding of a state whose kind is "adam" (version 1).
constexpr std::size_t version_at = 6;
constexpr std::size_t kind_length_at = 10;
constexpr std::size_t step_at = 18;
constexpr std::size_t count_at = 26;
constexpr std::size_t first_name_length_at = 34;

} // namespace

TEST_CASE("optim optimizer_state: round trip is bitwise exact", "[tensor][optim][optimizer_state]") {
  const auto s = sample_state();
  const std::string bytes = encode(s);
  CHECK(bytes.compare(0, 6, "TRPOPT") == 0);
  CHECK(bitwise_equal(decode(bytes), s));

  SECTION("records can be concatenated; reading stops after one") {
    optimizer_state other;
    other.kind = "sgd";
    std::istringstream in(bytes + encode(other));
    CHECK(bitwise_equal(read_optimizer_state(in), s));
    CHECK(bitwise_equal(read_optimizer_state(in), other));
  }
  SECTION("an unseekable stream reads the same") {
    unseekable_buf buf(bytes);
    std::istream in(&buf);
    CHECK(bitwise_equal(read_optimizer_state(in), s));
  }
}

TEST_CASE("optim optimizer_state: wrong magic is rejected", "[tensor][optim][optimizer_state]") {
  std::string bytes = encode(sample_state());
  bytes[0] = 'X';
  CHECK_THAT(error_message([&] { decode(bytes); }),
             Contains("bad magic") && Contains("\"TRPOPT\"") && Contains("\"XRPOPT\""));
  CHECK_THAT(error_message([&] { decode("GIF89a\x01\x02"); }), Contains("not an optimizer state"));
  CHECK_THAT(error_message([&] { decode(""); }), Contains("bad magic"));
}

TEST_CASE("optim optimizer_state: wrong version names both versions", "[tensor][optim][optimizer_state]") {
  std::string bytes = encode(sample_state());
  put_u32(bytes, version_at, 7);
  CHECK_THAT(error_message([&] { decode(bytes); }), Contains("version 7") && Contains("reads version 1"));
}

TEST_CASE("optim optimizer_state: every truncation is rejected", "[tensor][optim][optimizer_state]") {
  const std::string bytes = encode(sample_state());
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    CAPTURE(cut);
    const std::string prefix = bytes.substr(0, cut);
    CHECK_THROWS_AS(decode(prefix), troupe::error);
    unseekable_buf buf(prefix);
    std::istream in(&buf);
    CHECK_THROWS_AS(read_optimizer_state(in), troupe::error);
  }
  CHECK_THAT(error_message([&] { decode(bytes.substr(0, bytes.size() - 2)); }), Contains("truncated"));
}

TEST_CASE("optim optimizer_state: absurd lengths fail before allocating", "[tensor][optim][optimizer_state]") {
  const std::string bytes = encode(sample_state());
  SECTION("kind length over the limit") {
    std::string bad = bytes;
    put_u32(bad, kind_length_at, 0xFFFFFFFFU);
    CHECK_THAT(error_message([&] { decode(bad); }), Contains("optimizer kind length 4294967295 exceeds"));
  }
  SECTION("buffer count larger than the stream") {
    std::string bad = bytes;
    put_u64(bad, count_at, std::uint64_t{1} << 60);
    CHECK_THAT(error_message([&] { decode(bad); }), Contains("buffer count claims") && Contains("remain"));
  }
  SECTION("float count over the limit") {
    // First buffer (map order): "empty.exp_avg", name length 13, then its u64 float count.
    std::string bad = bytes;
    put_u64(bad, first_name_length_at + 4 + 13, std::uint64_t{1} << 40);
    CHECK_THAT(error_message([&] { decode(bad); }), Contains("buffer 'empty.exp_avg' claims 1099511627776 floats"));
  }
  SECTION("float count larger than the stream") {
    std::string bad = bytes;
    put_u64(bad, first_name_length_at + 4 + 13, 1000);
    CHECK_THAT(error_message([&] { decode(bad); }), Contains("buffer 'empty.exp_avg' claims 1000"));
    unseekable_buf buf(bad);
    std::istream in(&buf);
    CHECK_THAT(error_message([&] { read_optimizer_state(in); }), Contains("truncated"));
  }
  SECTION("empty kind") {
    std::string bad = bytes;
    put_u32(bad, kind_length_at, 0);
    CHECK_THAT(error_message([&] { decode(bad); }), Contains("optimizer kind is empty"));
  }
}

TEST_CASE("optim optimizer_state: corrupt payload fails the checksum", "[tensor][optim][optimizer_state]") {
  std::string bytes = encode(sample_state());
  SECTION("flipped step bit") {
    bytes[step_at] ^= 0x01;
  }
  SECTION("flipped float bit") {
    bytes[bytes.size() - 10] ^= 0x40;
  }
  SECTION("flipped checksum bit") {
    bytes.back() ^= 0x01;
  }
  CHECK_THAT(error_message([&] { decode(bytes); }), Contains("checksum mismatch") && Contains("corrupt"));
}

TEST_CASE("optim optimizer_state: duplicate buffer names are rejected", "[tensor][optim][optimizer_state]") {
  optimizer_state s;
  s.kind = "sgd";
  s.buffers["a.momentum_buffer"] = {1.0f};
  s.buffers["b.momentum_buffer"] = {2.0f};
  std::string bytes = encode(s);
  const std::size_t second_name = bytes.find("b.momentum_buffer");
  REQUIRE(second_name != std::string::npos);
  bytes[second_name] = 'a';
  CHECK_THAT(error_message([&] { decode(bytes); }), Contains("'a.momentum_buffer' appears twice"));
}

TEST_CASE("optim optimizer_state: writing refuses unencodable states", "[tensor][optim][optimizer_state]") {
  std::ostringstream out;
  optimizer_state s;
  CHECK_THAT(error_message([&] { write_optimizer_state(out, s); }), Contains("kind"));
  s.kind = "sgd";
  s.buffers[""] = {1.0f};
  CHECK_THAT(error_message([&] { write_optimizer_state(out, s); }), Contains("buffer name"));
}
