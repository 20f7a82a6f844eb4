#pragma once
/// Bounds-checked, little-endian reading of bytes held in memory (a file read whole, a frame).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/little_endian.hpp"

namespace troupe {

/// Reads data[0..size) front to back; nothing is read past the end.
///
/// Every shortfall throws troupe::error "<context>: <what> needs N bytes at offset P, only L left"
/// (or "<what> claims C x S bytes ..." for a count that came from the data), so the message says
/// which input and which field. The bytes must outlive the cursor.
class byte_cursor {
public:
  /// `context` starts every error message, e.g. "model.trpm: truncated model file".
  byte_cursor(const void* data, std::size_t size, std::string context)
      : data_(static_cast<const char*>(data)), size_(size), context_(std::move(context)) {}

  /// The next sizeof(T) bytes as a little-endian integer or IEEE float; `what` names the field.
  template <class T>
  T read(std::string_view what) {
    return load_le<T>(bytes(sizeof(T), what));
  }

  /// The next `n` bytes (a field of fixed size); throws naming `what` if fewer remain.
  const char* bytes(std::size_t n, std::string_view what) {
    if (n > remaining())
      fail_needs(n, what);
    const char* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  /// The next `count` items of `item_bytes` each, where `count` came from the data: it is checked
  /// against the bytes left before it is multiplied, so a huge count cannot wrap around.
  const char* items(std::uint64_t count, std::size_t item_bytes, std::string_view what) {
    if (item_bytes != 0 && count > remaining() / item_bytes)
      fail_claims(count, item_bytes, what);
    const char* p = data_ + pos_;
    pos_ += static_cast<std::size_t>(count) * item_bytes;
    return p;
  }

  /// Offset of the next byte to read, from the start of the data.
  std::size_t position() const { return pos_; }
  /// Bytes not read yet.
  std::size_t remaining() const { return size_ - pos_; }
  /// Total bytes the cursor reads over.
  std::size_t size() const { return size_; }

private:
  [[noreturn]] void fail_needs(std::size_t n, std::string_view what) const;
  [[noreturn]] void fail_claims(std::uint64_t count, std::size_t item_bytes, std::string_view what) const;

  const char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::string context_;
};

} // namespace troupe
