#include "net/buffer_pool.hpp"

#include <map>
#include <mutex>

namespace troupe::net {

struct buffer_pool::state {
  std::mutex mu;
  std::multimap<std::size_t, std::unique_ptr<std::byte[]>> idle; // by size
  counters c;
  std::uint64_t max_idle_bytes = 0;

  /// Takes a released buffer back, or frees it when keeping it would pass the cap.
  void give_back(std::unique_ptr<std::byte[]> buf, std::size_t bytes) {
    std::lock_guard<std::mutex> lk(mu);
    if (c.idle_bytes + bytes > max_idle_bytes)
      return; // freed by buf's destructor
    c.idle_bytes += bytes;
    idle.emplace(bytes, std::move(buf));
  }
};

buffer_pool::buffer_pool(std::uint64_t max_idle_bytes) : s_(std::make_shared<state>()) {
  s_->max_idle_bytes = max_idle_bytes;
}

buffer_pool::~buffer_pool() = default;

buffer_pool::lease buffer_pool::take(std::size_t bytes, std::shared_ptr<void> keep) {
  std::unique_ptr<std::byte[]> buf;
  {
    std::lock_guard<std::mutex> lk(s_->mu);
    if (auto it = s_->idle.find(bytes); it != s_->idle.end()) {
      buf = std::move(it->second);
      s_->idle.erase(it);
      s_->c.idle_bytes -= bytes;
      ++s_->c.reused;
    } else {
      ++s_->c.fresh;
    }
  }
  if (!buf)
    buf.reset(new std::byte[bytes == 0 ? 1 : bytes]);
  std::byte* data = buf.get();
  // The deleter owns the buffer; it holds the pool weakly so a buffer may outlive its pool.
  auto release = [weak = std::weak_ptr<state>(s_), bytes, keep = std::move(keep)](std::byte* p) mutable {
    std::unique_ptr<std::byte[]> owned(p);
    keep.reset();
    if (auto pool = weak.lock())
      pool->give_back(std::move(owned), bytes);
  };
  std::shared_ptr<std::byte> owner(buf.release(), std::move(release));
  return {data, std::shared_ptr<const void>(std::move(owner), data)};
}

buffer_pool::counters buffer_pool::stats() const {
  std::lock_guard<std::mutex> lk(s_->mu);
  return s_->c;
}

} // namespace troupe::net
