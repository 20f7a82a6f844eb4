#pragma once
/// A shared handle to one ZeroMQ context: every van in a process that talks over inproc:// must use the same one.

#include <memory>

namespace zmq {
class context_t;
} // namespace zmq

namespace troupe::net {

/// Copies share one ZeroMQ context, which is terminated when the last copy (and the last van using it) is gone.
class context {
public:
  /// An empty handle: a van given one creates a context of its own.
  context() = default;
  /// A new ZeroMQ context with `io_threads` background I/O threads.
  static context create(int io_threads = 1);

  explicit operator bool() const noexcept { return static_cast<bool>(ctx_); }
  /// The underlying cppzmq context (include <zmq.hpp> to use it); throws troupe::error if empty.
  zmq::context_t& native() const;

private:
  std::shared_ptr<zmq::context_t> ctx_;
};

} // namespace troupe::net
