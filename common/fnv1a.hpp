#pragma once
/// 64-bit FNV-1a (Fowler, Noll, Vo): a stable, non-cryptographic fingerprint of a byte string,
/// the same on every platform and in every build.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace troupe {

/// FNV-1a 64-bit offset basis: the hash of nothing.
inline constexpr std::uint64_t fnv1a_offset_basis = 0xcbf29ce484222325ULL;
/// FNV-1a 64-bit prime.
inline constexpr std::uint64_t fnv1a_prime = 0x100000001b3ULL;

/// The hash `h` continued over `bytes`: fnv1a(b, fnv1a(a)) == fnv1a(a followed by b).
constexpr std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = fnv1a_offset_basis) {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= fnv1a_prime;
  }
  return h;
}

} // namespace troupe
