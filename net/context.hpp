#pragma once
/// A shared handle to one ZeroMQ context: every van in a process that talks over inproc:// must use the same one.
///
/// The context also runs the process's ZAP handler (RFC 27), which libzmq asks, for every CURVE
/// handshake on a server socket, whether the client's public key may connect. ZeroMQ allows one
/// ZAP handler per context, so the vans of one process share it: each registers the keys it
/// accepts under its own ZAP domain.

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace zmq {
class context_t;
} // namespace zmq

namespace troupe::net {

/// Copies share one ZeroMQ context, which is terminated when the last copy (and the last van using it) is gone.
class context {
public:
  /// Called on the ZAP thread for each refused handshake: the peer's address and why it was refused.
  using deny_handler = std::function<void(const std::string& address, const std::string& why)>;

  /// An empty handle: a van given one creates a context of its own.
  context() = default;
  /// A new ZeroMQ context with `io_threads` background I/O threads.
  static context create(int io_threads = 1);

  explicit operator bool() const noexcept { return static_cast<bool>(s_); }
  /// The underlying cppzmq context (include <zmq.hpp> to use it); throws troupe::error if empty.
  zmq::context_t& native() const;

  /// Lets the CURVE clients whose public keys (Z85) are in `key_to_name` connect to server sockets
  /// whose ZMQ_ZAP_DOMAIN is `domain`; the name becomes the connection's ZAP user id ("User-Id"
  /// property of each message). Starts the ZAP handler on first use. Replaces an earlier registration.
  /// Throws troupe::error if a key is not a Z85 key.
  void zap_allow(const std::string& domain, const std::map<std::string, std::string>& key_to_name,
                 deny_handler on_deny);
  /// Forgets `domain`: its handshakes are refused from now on.
  void zap_forget(const std::string& domain);

  struct state;

private:
  std::shared_ptr<state> s_;
};

} // namespace troupe::net
