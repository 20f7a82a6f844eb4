#pragma once
/// Little-endian encoding of integers and IEEE floats, the byte order of every Troupe file and
/// frame, independent of the host's order.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

namespace troupe {

namespace detail {

template <std::size_t Bytes>
struct unsigned_of;
template <>
struct unsigned_of<1> {
  using type = std::uint8_t;
};
template <>
struct unsigned_of<2> {
  using type = std::uint16_t;
};
template <>
struct unsigned_of<4> {
  using type = std::uint32_t;
};
template <>
struct unsigned_of<8> {
  using type = std::uint64_t;
};

template <class T>
constexpr bool is_le_value = (std::is_integral_v<T> && !std::is_same_v<T, bool>) ||
                             (std::is_floating_point_v<T> && std::numeric_limits<T>::is_iec559 &&
                              (sizeof(T) == 4 || sizeof(T) == 8));

} // namespace detail

/// The T stored little-endian in p[0..sizeof(T)); T is an integer, float or double.
template <class T>
T load_le(const void* p) {
  static_assert(detail::is_le_value<T>, "load_le reads integers and IEEE floats");
  using U = typename detail::unsigned_of<sizeof(T)>::type;
  const auto* b = static_cast<const unsigned char*>(p);
  U u = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    u = static_cast<U>(u | static_cast<U>(static_cast<U>(b[i]) << (8 * i)));
  T v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

/// Writes v little-endian to p[0..sizeof(T)).
template <class T>
void store_le(void* p, T v) {
  static_assert(detail::is_le_value<T>, "store_le writes integers and IEEE floats");
  using U = typename detail::unsigned_of<sizeof(T)>::type;
  U u;
  std::memcpy(&u, &v, sizeof u);
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < sizeof(T); ++i)
    b[i] = static_cast<unsigned char>(u >> (8 * i));
}

/// Appends v little-endian to `out`.
template <class T>
void append_le(std::string& out, T v) {
  unsigned char b[sizeof(T)];
  store_le(b, v);
  out.append(reinterpret_cast<const char*>(b), sizeof b);
}

} // namespace troupe
