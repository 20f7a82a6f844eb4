#include "net/codec.hpp"

#include <catch2/catch.hpp>

#include "common/rng.hpp"

#include "net_test_util.hpp"

using namespace troupe;
using namespace troupe::net;

namespace {

const std::uint64_t cluster = cluster_id_of("malformed");

/// The reference message: 'w' [10, 30] f32 and 'b' [4] i32.
message reference() {
  message m(msg_type::push_gradient);
  m.h.cluster_id = cluster;
  m.h.sender = "trainer-1";
  m.h.seq = 7;
  m.h.meta = "{}";
  m.add_tensor("w", {10, 30}, std::vector<float>(300, 0.5f));
  m.add_tensor("b", {4}, std::vector<std::int32_t>{1, 2, 3, 4});
  return m;
}

/// Frames of a header (encoded as is, without validation) and the reference tensor frames.
std::vector<payload> with_header(const std::string& hdr, std::vector<payload> tensors = reference().frames) {
  std::vector<payload> f{test::bytes(hdr)};
  f.insert(f.end(), tensors.begin(), tensors.end());
  return f;
}

std::string reference_header() {
  return encode_header(reference().h);
}

/// The header bytes with `n` bytes at `at` replaced by the little-endian value v.
std::string patched(std::string h, std::size_t at, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    h[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return h;
}

struct bad_case {
  std::string name;
  std::vector<payload> frames;
  decode_error::reason want;
  std::string detail; ///< a substring the error detail must contain
};

std::vector<bad_case> table() {
  const auto ref = reference_header();
  std::vector<bad_case> t;
  auto alter = [](auto fn) {
    auto m = reference();
    fn(m);
    return m;
  };
  t.push_back({"no frames", {}, decode_error::truncated_header, "at least a header frame"});
  t.push_back({"empty header frame", with_header(""), decode_error::truncated_header, "fewer than its 8-byte prefix"});
  t.push_back({"a prefix cut short", with_header("TRP"), decode_error::truncated_header, "prefix"});
  t.push_back({"bad magic", with_header("HTTP" + ref.substr(4)), decode_error::bad_magic, "48 54 54 50"});
  t.push_back({"other version", with_header(patched(ref, 4, 7, 2)), decode_error::bad_version,
               "protocol version 7 from peer, this node speaks 3"});
  t.push_back({"unknown flags", with_header(patched(ref, 6, 4, 2)), decode_error::bad_header, "flags 0x0004"});
  t.push_back({"wrong cluster", with_header(encode_header(alter([](message& m) { m.h.cluster_id = 0xabc; }).h)),
               decode_error::wrong_cluster,
               fmt::format("cluster id 0x0000000000000abc is not this cluster's {:#018x}", cluster)});
  t.push_back({"no archive after the prefix", with_header(ref.substr(0, 8)), decode_error::truncated_header,
               "after its prefix"});
  t.push_back({"bad endianness marker", with_header(patched(ref, 8, 7, 1)), decode_error::bad_header, "endianness"});
  t.push_back({"unknown type", with_header(patched(ref, 17, 999, 2)), decode_error::unknown_type,
               "message type 999 is unknown"});
  t.push_back({"a trailing byte", with_header(ref + '\0'), decode_error::bad_header, "1 bytes after its last field"});
  t.push_back({"absurd sender length", with_header(patched(ref, 19, 1ULL << 62, 8)), decode_error::truncated_header,
               "the sender name claims 4611686018427387904 bytes"});
  t.push_back({"3 tensors in the header, 2 frames",
               with_header(encode_header(alter([](message& m) {
                                           m.h.tensors.push_back({"c", dtype::u8, {2}});
                                         }).h)),
               decode_error::frame_count_mismatch, "header lists 3 tensors but 2 tensor frames follow"});
  t.push_back({"frame size mismatch",
               with_header(ref, {payload::copy_of(std::string(1000, 'x').data(), 1000), reference().frames[1]}),
               decode_error::frame_size_mismatch, "frame 1 has 1000 bytes but tensor 'w' [10, 30] f32 needs 1200"});
  t.push_back({"rank 9", with_header(encode_header(alter([](message& m) { m.h.tensors[0].shape.assign(9, 1); }).h)),
               decode_error::bad_shape, "tensor 0 'w' has rank 9, the limit is 8"});
  t.push_back({"an element count that overflows 64 bits",
               with_header(encode_header(alter([](message& m) { m.h.tensors[0].shape.assign(4, 0xffffffffU); }).h)),
               decode_error::too_large, "overflows a 64-bit byte count"});
  t.push_back({"16 GiB of tensors", with_header(encode_header(alter([](message& m) {
                                                                m.h.tensors[1].shape = {65536, 65536};
                                                              }).h)),
               decode_error::too_large, "more than the limit of 268435456 bytes"});
  t.push_back({"unknown dtype",
               with_header(encode_header(alter([](message& m) { m.h.tensors[1].type = static_cast<dtype>(9); }).h)),
               decode_error::bad_header, "tensor 1 'b' has unknown dtype 9"});
  t.push_back({"4097 tensor frames", with_header(ref, std::vector<payload>(4097, test::bytes("x"))),
               decode_error::too_many_frames, "4097 tensor frames after the header, the limit is 4096"});
  // Tensors in pieces (version 3): the pieces of each tensor must end exactly at its end.
  const auto w = reference().frames[0], b = reference().frames[1];
  const auto slice = [](const payload& p, std::size_t at, std::size_t n) {
    return payload(p.owner(), p.data() + at, n);
  };
  t.push_back({"a piece crossing the end of its tensor into the next",
               with_header(ref, {slice(w, 0, 1000), test::bytes(std::string(216, 'x')), b}),
               decode_error::frame_size_mismatch, "frame 2 has 216 bytes where tensor 'w' [10, 30] f32 has 200 left"});
  t.push_back({"an empty piece of a non-empty tensor", with_header(ref, {w, payload(), b}),
               decode_error::frame_size_mismatch, "frame 2 has 0 bytes where tensor 'b' [4] i32 has 16 left"});
  t.push_back({"pieces that stop inside the last tensor",
               with_header(ref, {slice(w, 0, 400), slice(w, 400, 400), slice(w, 800, 400), slice(b, 0, 8)}),
               decode_error::frame_count_mismatch, "the frames end after 8 of the 16 bytes of tensor 'b' [4] i32"});
  t.push_back({"a frame after the last tensor", with_header(ref, {slice(w, 0, 600), slice(w, 600, 600), b, b}),
               decode_error::frame_count_mismatch, "1 frames follow the last byte of the last tensor"});
  t.push_back({"a header listing 100 tensors",
               with_header(encode_header(alter([](message& m) {
                                           m.h.tensors.assign(100, tensor_desc{"u", dtype::u8, {1}});
                                         }).h)),
               decode_error::too_many_frames, "header lists 100 tensors"});
  t.push_back({"a header listing 65 recipients",
               with_header(encode_header(alter([](message& m) { m.h.to.assign(65, "trainer-0"); }).h)),
               decode_error::bad_header, "header lists 65 recipients, the limit is 64"});
  t.push_back({"a header of protocol version 1 (recipients in meta)", with_header([] {
                 auto h = reference_header();
                 h[4] = 1;
                 return h;
               }()),
               decode_error::bad_version, "protocol version 1 from peer, this node speaks 3"});
  t.push_back({"a 70 KiB header", with_header(encode_header(alter([](message& m) { m.h.meta.assign(70000, 'm'); }).h)),
               decode_error::too_large, "the limit is 65536"});
  return t;
}

} // namespace

TEST_CASE("malformed messages are refused with the right reason and a precise message", "[net][message]") {
  REQUIRE(decode(with_header(reference_header()), limits{}, cluster).ok()); // the baseline is valid
  for (const auto& c : table()) {
    INFO(c.name);
    const auto r = decode(c.frames, limits{}, cluster);
    REQUIRE_FALSE(r.ok());
    CHECK(to_string(r.error().code) == to_string(c.want));
    CHECK_THAT(r.error().detail, Catch::Contains(c.detail));
  }
}

TEST_CASE("every truncation of a valid header is refused as truncated", "[net][message]") {
  const auto ref = reference_header();
  for (std::size_t n = 0; n < ref.size(); ++n) {
    INFO("header cut to " << n << " of " << ref.size() << " bytes");
    const auto r = decode(with_header(ref.substr(0, n)), limits{}, cluster);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == decode_error::truncated_header);
  }
}

TEST_CASE("random garbage never decodes and never crashes", "[net][message]") {
  rng r(2024);
  const std::string prefix("TRP1\x01\x00\x00\x00\x01", 9);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(r.next() % 200, '\0');
    for (auto& c : junk)
      c = static_cast<char>(r.next());
    if (i % 2 == 1)
      junk = prefix + junk; // get past the prefix checks into the archive parser
    std::vector<payload> frames{test::bytes(junk)};
    for (std::uint64_t k = r.next() % 4; k > 0; --k)
      frames.push_back(test::bytes(std::string(r.next() % 64, 'z')));
    const auto res = decode(frames, limits{}, cluster);
    REQUIRE_FALSE(res.ok());
    REQUIRE(res.error().code < decode_error::reason_count);
  }
}

TEST_CASE("2000 random mutations of a valid header are decoded or refused, never crash", "[net][message]") {
  rng r(7);
  const auto ref = reference_header();
  const auto tensors = reference().frames;
  std::size_t accepted = 0, refused = 0;
  for (int i = 0; i < 2000; ++i) {
    auto h = ref;
    switch (r.next() % 4) {
    case 0: // flip a few bytes anywhere past the magic
      for (std::uint64_t k = 1 + r.next() % 3; k > 0; --k)
        h[4 + r.next() % (h.size() - 4)] ^= static_cast<char>(1 + r.next() % 255);
      break;
    case 1: // an all-ones u32 somewhere in the archive (huge lengths, counts, dims)
      h = patched(h, 9 + r.next() % (h.size() - 13), 0xffffffffU, 4);
      break;
    case 2: // a random byte inserted
      h.insert(h.begin() + static_cast<std::ptrdiff_t>(8 + r.next() % (h.size() - 8)), static_cast<char>(r.next()));
      break;
    default: // a random cut
      h.resize(r.next() % h.size());
    }
    auto res = decode(with_header(h, tensors), limits{}, cluster);
    if (res.ok()) {
      ++accepted; // e.g. a flipped seq or name byte: must still be self-consistent
      const auto& m = res.value();
      REQUIRE(m.frames.size() == m.h.tensors.size());
      for (std::size_t k = 0; k < m.frames.size(); ++k)
        REQUIRE(m.frames[k].size() == m.h.tensors[k].bytes());
    } else {
      ++refused;
      REQUIRE(res.error().code < decode_error::reason_count);
      REQUIRE_FALSE(res.error().detail.empty());
    }
  }
  CHECK(refused > 1000);
  CHECK(accepted + refused == 2000);
}

TEST_CASE("tighter limits are enforced", "[net][message]") {
  limits lim;
  lim.max_message_bytes = 1000;
  lim.max_tensor_rank = 1;
  const auto frames = encode(reference());
  auto r = decode(frames, lim, cluster);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == decode_error::bad_shape); // 'w' has rank 2
  lim.max_tensor_rank = 2;
  r = decode(frames, lim, cluster);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == decode_error::too_large);
  lim.max_message_bytes = 1216;
  CHECK(decode(frames, lim, cluster).ok());
}
