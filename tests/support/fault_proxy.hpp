#pragma once
/// A test-only TCP fault proxy: it sits between a node and the peers it talks to, relaying every
/// byte of every connection, and can delay, hold or pass that traffic on command.
///
/// Each route listens on 127.0.0.1:<ephemeral port> and relays every accepted connection to one
/// target (tcp://host:port or ipc://path: ZeroMQ speaks the same ZMTP bytes over both). A node is
/// put behind the proxy by giving its process a topology in which its peers' endpoints are the
/// routes' endpoints, and the peers' processes a topology in which the node's endpoint is one.
///
/// Modes (all routes of one proxy share the mode, switched from any thread):
///   pass       relay as fast as the sockets allow
///   delay      each chunk read is held `ms + uniform[0, jitter]` before it is written on, in
///              both directions; the byte order of a connection is kept (no chunk overtakes another)
///   blackhole  a partition by dropped packets, not resets: connections are accepted and kept
///              open, nothing is read or written in either direction, new connections wait
///              unanswered; what the sockets already hold stays there, as TCP retransmission
///              would deliver it once the partition heals
///   pass again heals: held bytes flow, waiting connections reach their target
/// A connection whose target refuses it (the peer is not up yet) is closed at once, like a
/// refused TCP connect; ZeroMQ reconnects.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace troupe::test {

class fault_proxy {
public:
  enum class mode { pass, delay, blackhole };

  struct stats {
    std::uint64_t accepted = 0;       ///< connections accepted over all routes
    std::uint64_t bytes_forward = 0;  ///< written towards the targets
    std::uint64_t bytes_backward = 0; ///< written back towards the connecting side
    std::uint64_t bytes_delayed = 0;  ///< read while in delay mode (held before relaying)
    std::uint64_t refused = 0;        ///< connections closed because the target refused them
  };

  /// Starts the relay thread (in pass mode, no routes yet); throws troupe::error on failure.
  fault_proxy();
  /// Stops the thread and closes every socket.
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  /// Adds a route to `target` ("tcp://host:port" or "ipc://path"); returns the endpoint to
  /// connect to instead, "tcp://127.0.0.1:<port>". Throws troupe::error if it cannot listen.
  std::string add_route(const std::string& target);

  void pass();
  void delay(std::chrono::milliseconds ms, std::chrono::milliseconds jitter);
  void blackhole();
  void heal() { pass(); }

  stats counters() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::test
