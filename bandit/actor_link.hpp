#pragma once
/// What a bandit actor (the server or a client host) shares with its node: the van that carries
/// its messages, its mailbox, the node's metrics log, where everyone lives and when to give up.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bandit/mailbox.hpp"
#include "bandit/metrics_log.hpp"
#include "net/van.hpp"

namespace troupe::bandit {

/// Thrown out of receive() when a stop was requested or another local actor failed.
struct stop_signal {};

struct actor_link {
  using clock = std::chrono::steady_clock;

  std::string node; ///< this actor's node
  std::shared_ptr<net::van> van;
  std::shared_ptr<mailbox> inbox;
  std::shared_ptr<metrics_log> log;
  std::string server_node;                          ///< the node with the aggregator role
  std::vector<std::string> host_nodes;              ///< rank -> node of that client host
  std::chrono::milliseconds join_timeout{30000};    ///< cluster.connect_timeout_s: waiting for peers at start
  std::chrono::milliseconds silence_timeout{60000}; ///< longest wait for a reply once running
  std::chrono::milliseconds hello_interval{1000};   ///< cluster.heartbeat_s: hello repeats
  const std::atomic<bool>* stop = nullptr;          ///< set by a signal handler: finish gracefully
  const std::atomic<bool>* abort = nullptr;         ///< set when another local actor failed
  std::ostream* console = nullptr;                  ///< progress lines (null: quiet)

  std::size_t hosts() const noexcept { return host_nodes.size(); }
  /// The next message, or nothing at `deadline`; throws stop_signal once stop or abort is set.
  std::optional<net::message> receive(clock::time_point deadline) const;
  /// Sends m to `peer_node`; throws troupe::error if the van refuses it.
  void send(const std::string& peer_node, net::message m) const;
  /// Sends m, logging instead of throwing on failure (for best-effort goodbyes).
  void try_send(const std::string& peer_node, net::message m) const noexcept;
  /// A warning on stderr, prefixed with the node name.
  void warn(const std::string& text) const;
};

} // namespace troupe::bandit
