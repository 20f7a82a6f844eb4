#pragma once
/// A node's ZeroMQ endpoint ("inproc://name", "tcp://host:port", "ipc://path"), parsed and checked.

#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::config {

/// How a node is reached.
enum class transport { inproc, tcp, ipc };

/// A parsed endpoint; only the fields of its transport mean anything.
struct endpoint_address {
  transport kind = transport::inproc;
  std::string
      host; ///< tcp: host name or IP address as written (IPv6 without the brackets); never loopback-checked here
  std::uint16_t port = 0; ///< tcp: 0 means ephemeral (written as 0 or '*'), chosen when the node binds
  std::string name;       ///< inproc: the name; ipc: the socket path

  /// Whether the port is chosen at bind time (tcp with port 0 or '*').
  bool ephemeral() const { return kind == transport::tcp && port == 0; }
};

/// Parses `text`; throws troupe::error whose message (without a position) says what was expected.
///
/// tcp needs a host other nodes can connect to: the bind wildcard '*' is rejected; IPv6
/// addresses go in brackets (tcp://[::1]:5701).
endpoint_address parse_endpoint(std::string_view text);

/// The canonical text: "tcp://127.0.0.1:5701", "tcp://[::1]:0", "ipc:///tmp/x", "inproc://main".
std::string to_string(const endpoint_address& e);

/// "inproc", "tcp" or "ipc".
std::string to_string(transport t);

} // namespace troupe::config
