#pragma once
/// Reusable receive buffers for tensors that arrive in pieces (see codec.hpp, "pieces").
///
/// A 64 MB tensor assembled into a fresh allocation costs 16k page faults per message, more than
/// the copy itself on this kind of machine; training sends the same sizes every step, so a buffer
/// released by its last reader goes back to the pool and the next message of that size reuses it.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace troupe::net {

class buffer_pool {
public:
  /// Keeps at most `max_idle_bytes` of released buffers for reuse; beyond that they are freed.
  explicit buffer_pool(std::uint64_t max_idle_bytes = 1ULL << 30);
  ~buffer_pool();
  buffer_pool(const buffer_pool&) = delete;
  buffer_pool& operator=(const buffer_pool&) = delete;

  /// A writable buffer of `bytes` bytes (16-byte aligned) and the owner that keeps it alive.
  /// `keep` rides along and is released with the buffer (the van's per-peer in-flight ticket).
  /// The buffer returns to the pool when the last copy of `owner` is gone, even after the pool died
  /// (then it is simply freed).
  struct lease {
    std::byte* data = nullptr;
    std::shared_ptr<const void> owner;
  };
  lease take(std::size_t bytes, std::shared_ptr<void> keep = {});

  struct counters {
    std::uint64_t reused = 0;     ///< takes served by a released buffer of the same size
    std::uint64_t fresh = 0;      ///< takes that allocated
    std::uint64_t idle_bytes = 0; ///< released buffers waiting for reuse
  };
  counters stats() const;

private:
  struct state;
  std::shared_ptr<state> s_;
};

} // namespace troupe::net
