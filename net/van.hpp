#pragma once
/// The van: one node's ZeroMQ I/O thread (after ps-lite's Van).
///
/// Sockets: one ROUTER that every bind() adds an endpoint to, and one DEALER per connect()ed
/// peer whose routing id is this node's name, so the peer's ROUTER knows us by name. All sockets
/// live on the van's I/O thread; other threads hand it work through a locked queue and an
/// inproc PAIR wake-up. Protocol of one exchange:
///   1. A connects to B: A's DEALER (routing id "A") -> B's ROUTER.
///   2. A sends [header, tensors...]; B's ROUTER reads [identity "A", header, tensors...],
///      decodes strictly, checks header.sender == "A", then remembers the route "A".
///   3. B sends to "A" through its ROUTER (identity frame "A" first); A's DEALER receives it.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "net/codec.hpp"
#include "net/context.hpp"
#include "net/curve.hpp"
#include "net/message.hpp"
#include "net/peer_table.hpp"

namespace troupe::net {

struct van_options {
  std::string node_name;                  ///< routing id and header.sender of everything this van sends
  std::uint64_t cluster_id = 0;           ///< cluster_id_of(cluster name); other clusters' messages are rejected
  limits lim;                             ///< applied to what is received and to what is sent
  int send_hwm = 1000;                    ///< ZeroMQ send high-water mark (messages per peer); also the backlog cap
  context ctx;                            ///< share one between vans that talk over inproc://; empty = a private one
  std::chrono::milliseconds linger{1000}; ///< how long stop() lets queued messages drain
  std::chrono::milliseconds reconnect_ivl{100}; ///< first reconnect delay of a DEALER
  std::chrono::milliseconds reconnect_ivl_max{5000};
  std::chrono::milliseconds op_timeout{10000}; ///< how long bind()/connect() wait for the I/O thread
  /// CURVE on every tcp:// and ipc:// socket of this van: the ROUTER only admits the keys in
  /// curve.peers (each under its own name), and a DEALER expects its peer's key from there.
  /// inproc:// links stay plaintext (they never leave the process).
  curve_options curve;
  /// Received bytes of one peer that the handler has not released yet (the payloads are still
  /// alive). Beyond this the peer's messages are refused as `flooding`, so memory stays bounded.
  std::uint64_t max_peer_inflight_bytes = 1ULL << 30;
  /// The node names that may send to this van (the cluster's nodes). When not empty, a connection
  /// calling itself anything else is refused as `unauthenticated` before its bytes are kept, so
  /// the per-peer limits are counted per node of the cluster, never per made-up routing id.
  std::set<std::string> known_peers;
  /// Over tcp:// and ipc://, a tensor larger than `whole_up_to` travels in pieces of `piece_bytes`
  /// and is assembled on arrival (piece_bytes 0: always whole). libzmq receives each frame into a
  /// fresh malloc: above glibc's 32 MB mmap ceiling that is a fresh mapping and 16k page faults per
  /// 64 MB, which pieces avoid (5.6-8.1x faster at 16M-64M floats); up to 16 MB a whole frame comes
  /// from reused heap and saves the assembly copy (6-12% faster at 1M-4M floats). Measured with
  /// bench_cluster --part roundtrip. inproc:// links always send whole frames (zero-copy end to end).
  std::size_t piece_bytes = 1 << 20;
  std::size_t whole_up_to = 16 << 20;
  /// Released assembly buffers the van keeps for the next message of the same size.
  std::uint64_t pool_idle_bytes = 1ULL << 30;
  /// Peers with figures of their own in van_stats::peers; traffic of further names is counted
  /// under net::unknown_peer (see net/peer_table.hpp).
  std::size_t max_peer_entries = 256;
  /// A round-trip probe without an answer for this long is counted unanswered and may be replaced.
  std::chrono::milliseconds probe_timeout{10000};
  /// Called for each refused message or handshake (peer = connection identity, or the address of a
  /// peer that failed the CURVE handshake), on the I/O thread or the ZAP thread; may be empty.
  std::function<void(const std::string& peer, const decode_error& e)> on_reject;
};

/// Counters of one van; a snapshot, consistent as of the moment counters() ran.
struct van_stats {
  std::uint64_t messages_sent = 0;     ///< handed to ZeroMQ
  std::uint64_t bytes_sent = 0;        ///< all frames, header included
  std::uint64_t messages_received = 0; ///< decoded: passed to the handler (or counted unhandled), or a probe
  std::uint64_t bytes_received = 0;
  std::uint64_t rejected = 0; ///< sum of rejected_by_reason
  std::array<std::uint64_t, decode_error::reason_count> rejected_by_reason{};
  std::uint64_t send_failures = 0;  ///< dropped: peer unreachable, backlog full or van stopping
  std::uint64_t unhandled = 0;      ///< received while no handler was set
  std::uint64_t handler_errors = 0; ///< exceptions thrown by the handler (caught)
  std::string last_rejection;       ///< "from 'x': wrong_cluster: cluster id ..."
  std::string last_send_failure;
  std::string last_handler_error;
  /// The same figures per peer (by printable name), with the round-trip estimates; they add up to
  /// the totals above (a rejected handshake counts under net::unknown_peer).
  std::map<std::string, peer_stats> peers;
};

class van {
public:
  using stats = van_stats;
  using handler = std::function<void(message&&)>;

  /// Starts the I/O thread; throws troupe::error if the options are unusable (empty name).
  explicit van(van_options opts);
  /// Stops (see stop()).
  ~van();
  van(const van&) = delete;
  van& operator=(const van&) = delete;

  /// Adds an endpoint (tcp://, ipc://, inproc://) to the ROUTER; returns the actual endpoint,
  /// e.g. "tcp://127.0.0.1:41234" for "tcp://127.0.0.1:*". Throws troupe::error on failure or timeout.
  std::string bind(const std::string& endpoint);
  /// Opens a DEALER to `peer_name` (which must be that node's node_name) at `endpoint`.
  /// Messages may be sent right away; ZeroMQ queues them until the connection is up.
  void connect(const std::string& peer_name, const std::string& endpoint);
  /// Queues `m` for `peer_name` and returns at once (any thread). Stamps cluster_id, sender and seq.
  /// Throws troupe::error if there is no route (neither connected nor heard from), if the message is
  /// inconsistent or over the limits, or if the van is stopped.
  void send(const std::string& peer_name, message m);
  /// Sets the function called on the I/O thread with each valid message. It must return quickly
  /// (hand the message to a mailbox) and may call send(); set it before bind()/connect().
  void set_handler(handler on_message);
  /// Sends a round-trip probe (a ping, answered by the peer's van) unless one to that peer is still
  /// outstanding and younger than probe_timeout; its answer updates van_stats::peers[peer_name].
  /// Returns whether a probe was sent; never throws (no route, a stopped van: false).
  bool probe(const std::string& peer_name);
  /// True once a valid message from `peer_name` arrived on the ROUTER or a connect() to it was made.
  bool has_route(const std::string& peer_name) const;
  stats counters() const;
  /// Stops the I/O thread after handing queued messages to ZeroMQ; sockets close with `linger`.
  /// Idempotent; after it returns the handler is not called again.
  void stop();

  const std::string& name() const noexcept;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::net
