#pragma once
/// What a bandit actor (the server or a client host) shares with its node, on the shared runtime:
/// its CAF blocking actor (the router delivers its messages there as runtime::inbound), the
/// node's context (van, metrics actor, refusal counters), where everyone lives and when to give up.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "net/message.hpp"
#include "runtime/node_context.hpp"

namespace troupe::bandit {

/// Thrown out of receive() when the node's supervisor stops this actor (a signal, or another
/// local actor failed).
struct stop_signal {};

struct actor_link {
  using clock = std::chrono::steady_clock;

  caf::blocking_actor* self = nullptr;              ///< the actor this link receives for
  std::shared_ptr<const runtime::node_context> ctx; ///< its node: van, metrics, counters
  std::string server_node;                          ///< the node with the aggregator role
  std::vector<std::string> host_nodes;              ///< rank -> node of that client host
  std::chrono::milliseconds join_timeout{30000};    ///< cluster.connect_timeout_s: waiting for peers at start
  std::chrono::milliseconds silence_timeout{60000}; ///< longest wait for a reply once running
  std::chrono::milliseconds hello_interval{1000};   ///< cluster.heartbeat_s: hello repeats
  std::chrono::milliseconds failure_timeout{2500};  ///< cluster.failure_timeout_s: a silent peer node is lost
  bool console = false;                             ///< progress lines on the node's console
  /// Set by a signal handler: seen at every receive (the supervisor's stop_atom follows within 100 ms).
  const std::atomic<bool>* stop = nullptr;

  const std::string& node() const noexcept { return ctx->node; }
  std::size_t hosts() const noexcept { return host_nodes.size(); }
  /// The next message, or nothing at `deadline`; throws stop_signal when `stop` is set or the
  /// supervisor says stop.
  std::optional<net::message> receive(clock::time_point deadline) const;
  /// Sends m to `peer_node`; throws troupe::error if the van refuses it.
  void send(const std::string& peer_node, net::message m) const;
  /// Sends m, logging instead of throwing on failure (for best-effort goodbyes).
  void try_send(const std::string& peer_node, net::message m) const noexcept;
  /// A warning on stderr, prefixed with the node name.
  void warn(const std::string& text) const;
  /// Appends a record to the node's metrics log (runtime::make_record's fields first).
  void record(const nlohmann::json& rec) const;
  /// A progress line on the node's console (when it talks).
  void line(const std::string& text) const;
  /// A message whose sender may not speak for the actor it claims: counted in the node's
  /// refused_unauthorized (the transport record's) and logged.
  void refuse_unauthorized(const std::string& what) const;
};

} // namespace troupe::bandit
