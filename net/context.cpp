#include "net/context.hpp"

#include <zmq.hpp>

#include "common/error.hpp"

namespace troupe::net {

context context::create(int io_threads) {
  TROUPE_ENFORCE(io_threads >= 1, "a ZeroMQ context needs at least one I/O thread, got {}", io_threads);
  context c;
  c.ctx_ = std::make_shared<zmq::context_t>(io_threads);
  return c;
}

zmq::context_t& context::native() const {
  TROUPE_ENFORCE(ctx_ != nullptr, "empty net::context");
  return *ctx_;
}

} // namespace troupe::net
