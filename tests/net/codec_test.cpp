#include "net/codec.hpp"

#include <utility>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "common/rng.hpp"
#include "net/buffer_pool.hpp"

#include "net_test_util.hpp"

using namespace troupe;
using namespace troupe::net;

namespace {

/// A message of type t with n tensors; tensor k has dtype (k + first) % 4 and random contents.
message sample(msg_type t, int n, int first, rng& r) {
  message m(t);
  m.h.cluster_id = cluster_id_of("codec");
  m.h.sender = "trainer-3";
  m.h.seq = r.next();
  m.h.clock = 42;
  m.h.step = 0xffffffffffffffffULL;
  m.h.meta = n == 0 ? "" : R"({"epoch": 3})";
  if (n > 0)
    m.h.to = n == 1 ? std::vector<std::string>{"trainer-0"} : std::vector<std::string>{"trainer-0", "trainer-2"};
  for (int k = 0; k < n; ++k) {
    const std::vector<std::uint32_t> shape = k == 0 ? std::vector<std::uint32_t>{} : std::vector<std::uint32_t>{3, 5};
    const std::size_t count = k == 0 ? 1 : 15;
    const auto name = fmt::format("t{}", k);
    switch ((k + first) % 4) {
    case 0: {
      std::vector<float> v(count);
      for (auto& x : v)
        x = static_cast<float>(r.next() % 1000) / 7.0f;
      m.add_tensor(name, shape, std::move(v));
      break;
    }
    case 1: {
      std::vector<std::int32_t> v(count);
      for (auto& x : v)
        x = static_cast<std::int32_t>(r.next());
      m.add_tensor(name, shape, std::move(v));
      break;
    }
    case 2: {
      std::vector<std::uint8_t> v(count);
      for (auto& x : v)
        x = static_cast<std::uint8_t>(r.next());
      m.add_tensor(name, shape, std::move(v));
      break;
    }
    default: {
      std::vector<std::uint16_t> v(count);
      for (auto& x : v)
        x = static_cast<std::uint16_t>(r.next());
      m.add_tensor(name, shape, std::move(v));
    }
    }
  }
  return m;
}

/// Copies every frame, as a transport would deliver it.
std::vector<payload> copied(const std::vector<payload>& frames) {
  std::vector<payload> out;
  for (const auto& f : frames)
    out.push_back(payload::copy_of(f.data(), f.size()));
  return out;
}

} // namespace

TEST_CASE("every message type round-trips with 0 to 3 tensor frames of each dtype", "[net][message]") {
  const auto type = GENERATE(from_range(all_msg_types()));
  const int n = GENERATE(0, 1, 2, 3);
  const int first = GENERATE(0, 1, 2, 3);
  rng r(static_cast<std::uint64_t>(type) * 100 + static_cast<std::uint64_t>(n * 10 + first));
  const message m = sample(type, n, first, r);

  const auto frames = encode(m);
  REQUIRE(frames.size() == static_cast<std::size_t>(n) + 1);
  auto result = decode(copied(frames), limits{}, cluster_id_of("codec"));
  INFO((result ? std::string("ok") : result.error().detail));
  REQUIRE(result.ok());
  const message& got = result.value();
  CHECK(got.h == m.h);
  REQUIRE(got.frames.size() == m.frames.size());
  for (std::size_t k = 0; k < m.frames.size(); ++k)
    CHECK(got.frames[k].view() == m.frames[k].view());
}

TEST_CASE("the header frame starts with magic, version and flags", "[net][message]") {
  header h;
  h.type = msg_type::ack;
  const auto bytes = encode_header(h);
  REQUIRE(bytes.size() > header_prefix_bytes);
  CHECK(bytes.substr(0, 4) == "TRP1");
  CHECK(bytes[4] == 3); // version 3, little-endian
  CHECK(bytes[5] == 0);
  CHECK(bytes[6] == 0); // flags
  CHECK(bytes[7] == 0);
  CHECK(bytes[8] == 1); // cereal's little-endian marker
}

TEST_CASE("encoding shares tensor buffers instead of copying them", "[net][message]") {
  auto buf = std::make_shared<const std::vector<float>>(4096, 1.0f);
  message m(msg_type::push_gradient);
  m.add_tensor("g", {64, 64}, buf);
  {
    const auto frames = encode(m);
    CHECK(frames[1].data() == reinterpret_cast<const std::byte*>(buf->data()));
    CHECK(buf.use_count() == 3); // buf, m, the encoded frame
    auto result = decode(frames, limits{}, 0);
    REQUIRE(result.ok());
    CHECK(result.value().view<float>(0).data == buf->data()); // decoding in place, too
  }
  CHECK(buf.use_count() == 2);
}

TEST_CASE("decoding copies a misaligned tensor frame so its view is valid", "[net][message]") {
  message m(msg_type::params);
  m.add_tensor("w", {3}, std::vector<float>{1.5f, 2.5f, 3.5f});
  auto frames = encode(m);
  std::vector<char> odd(13);
  std::memcpy(odd.data() + 1, frames[1].data(), 12);
  frames[1] = payload(nullptr, reinterpret_cast<const std::byte*>(odd.data() + 1), 12);
  auto result = decode(frames, limits{}, 0);
  REQUIRE(result.ok());
  const auto v = result.value().view<float>(0);
  CHECK(v[2] == 3.5f);
  CHECK(reinterpret_cast<const char*>(v.data) != odd.data() + 1);
}

TEST_CASE("encode refuses inconsistent messages", "[net][message]") {
  message m(msg_type::params);
  m.add_tensor("w", {2}, std::vector<float>{1, 2});
  SECTION("a frame too short for its descriptor") {
    m.frames[0] = test::bytes("1234");
    CHECK_THROWS_WITH(encode(m), Catch::Contains("frame 1 has 4 bytes but tensor 'w' [2] f32 needs 8"));
  }
  SECTION("a descriptor without a frame") {
    m.h.tensors.push_back({"b", dtype::u8, {1}});
    CHECK_THROWS_WITH(encode(m), Catch::Contains("frame_count_mismatch"));
  }
  SECTION("a header over the limit") {
    m.h.meta.assign(70 * 1024, 'x');
    CHECK_THROWS_AS(encode(m), troupe::error);
  }
  SECTION("an unknown type") {
    m.h.type = static_cast<msg_type>(999);
    CHECK_THROWS_WITH(encode(m), Catch::Contains("unknown_type"));
  }
}

TEST_CASE("cluster ids are the FNV-1a hash of the cluster name", "[net][message]") {
  CHECK(cluster_id_of("") == 0xcbf29ce484222325ULL);
  CHECK(cluster_id_of("a") == 0xaf63dc4c8601ec8cULL); // published FNV-1a 64 test vector
  CHECK(cluster_id_of("foobar") == 0x85944171f73967e8ULL);
  CHECK(cluster_id_of("fmnist-ps") != cluster_id_of("fmnist-ps2"));
}

TEST_CASE("large tensors travel in pieces that share the buffer and are assembled on arrival", "[net][message]") {
  rng r(11);
  std::vector<float> w(100'003); // not a multiple of the piece size: the last piece is short
  for (auto& x : w)
    x = static_cast<float>(r.next() % 100000) / 3.0f;
  auto buf = std::make_shared<const std::vector<float>>(w);
  message m(msg_type::push_gradient);
  m.add_tensor("small", {3}, std::vector<std::int32_t>{7, 8, 9});
  m.add_tensor("g", {100'003}, buf);
  m.add_tensor("empty", {0}, std::vector<std::uint8_t>{});

  const std::size_t piece = 64 * 1024;
  const auto frames = encode(m, limits{}, piece);
  const std::size_t g_pieces = (w.size() * 4 + piece - 1) / piece; // 7
  REQUIRE(frames.size() == 1 + 1 + g_pieces + 1);
  for (std::size_t i = 0; i < g_pieces; ++i) // slices of the one buffer, in order
    CHECK(frames[2 + i].data() == reinterpret_cast<const std::byte*>(buf->data()) + i * piece);
  CHECK(encode(m, limits{}, 0).size() == 4);              // 0: whole frames, as before
  CHECK(encode(m, limits{}, piece, 400'012).size() == 4); // at most whole_up_to bytes: whole
  CHECK(encode(m, limits{}, piece, 400'011).size() == frames.size());

  buffer_pool pool;
  auto ticket = std::make_shared<int>(0);
  std::weak_ptr<int> ticket_alive = ticket;
  {
    auto result = decode(copied(frames), limits{}, 0, {&pool, std::exchange(ticket, nullptr)});
    REQUIRE(result.ok());
    const message& got = result.value();
    REQUIRE(got.frames.size() == 3);
    const auto g = got.view<float>(1);
    REQUIRE(g.size == w.size());
    CHECK(std::equal(g.begin(), g.end(), w.begin()));
    CHECK(got.view<std::int32_t>(0)[2] == 9);
    CHECK(got.view<std::uint8_t>(2).size == 0);
    CHECK(pool.stats().fresh == 1);
    CHECK_FALSE(ticket_alive.expired()); // the assembled tensor holds the sender's in-flight ticket
  }
  CHECK(ticket_alive.expired()); // released with the tensor
  CHECK(pool.stats().idle_bytes == w.size() * 4);
  REQUIRE(decode(copied(frames), limits{}, 0, {&pool, nullptr}).ok());
  CHECK(pool.stats().reused == 1); // the next message of that size took the released buffer
}

TEST_CASE("encode refuses a message that needs more pieces than the limit", "[net][message]") {
  message m(msg_type::params);
  m.add_tensor("p", {4096}, std::vector<float>(4096, 1.0f));
  limits lim;
  lim.max_pieces = 15;
  CHECK_THROWS_WITH(encode(m, lim, 1024), Catch::Contains("needs 16 tensor frames") && Catch::Contains("max_pieces"));
  CHECK(encode(m, lim, 4096).size() == 5);
}
