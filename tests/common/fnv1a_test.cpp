#include "common/fnv1a.hpp"

#include <string>

#include <catch2/catch.hpp>

using namespace troupe;

// Published FNV-1a 64-bit test vectors (Fowler/Noll/Vo reference test suite).
static_assert(fnv1a("") == 0xcbf29ce484222325ULL, "the hash of nothing is the offset basis");
static_assert(fnv1a("a") == 0xaf63dc4c8601ec8cULL);

TEST_CASE("fnv1a gives the published 64-bit test vectors", "[common][fnv1a]") {
  CHECK(fnv1a("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a("foobar") == 0x85944171f73967e8ULL);
}

TEST_CASE("fnv1a continues a hash over more bytes and reads bytes as unsigned", "[common][fnv1a]") {
  CHECK(fnv1a("bar", fnv1a("foo")) == fnv1a("foobar"));
  const std::string high("\xff\x80", 2);
  std::uint64_t h = fnv1a_offset_basis;
  for (const unsigned char c : {0xffu, 0x80u}) {
    h ^= c;
    h *= fnv1a_prime;
  }
  CHECK(fnv1a(high) == h);
  const std::string with_nul("a\0b", 3);
  CHECK(fnv1a(with_nul) != fnv1a("ab"));
}
