#pragma once
/// The van's transport figures per peer: bytes, messages, refusals and a round-trip estimate.
///
/// Peers are keyed by the name the transport vouches for (the routing id that passed the van's
/// checks, which over CURVE is the ZAP user id); traffic that cannot be attributed (a connection
/// refused as unauthenticated, a failed handshake) is counted under `unknown_peer`. The table holds
/// at most `max_peers` named entries; a name beyond that is counted under `unknown_peer` too, so a
/// peer inventing routing ids cannot grow it without bound (like the router's bounded parking).
///
/// Round trip: the van sends a `ping` carrying a probe id in `header.clock`; the peer's van answers
/// at once with a `pong` echoing it. One probe per peer is outstanding at a time: the sample is the
/// time from start_probe() to the matching finish_probe(), on this node's steady clock (no clock
/// sync needed), so it covers both links, both I/O threads and any send backlog. A pong that does
/// not match the outstanding probe is ignored, so a peer cannot make up a round trip.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace troupe::net {

/// The bucket for traffic no peer name can be given to (and for names beyond the table's bound).
inline constexpr const char* unknown_peer = "(unknown)";

/// A routing id fit for a log line, a JSON key or a label: non-printable bytes as \xNN.
std::string printable_name(const std::string& id);

/// Transport figures of one peer (a snapshot); the round trip is in seconds.
struct peer_stats {
  std::uint64_t messages_sent = 0;     ///< handed to ZeroMQ
  std::uint64_t bytes_sent = 0;        ///< all frames, header included
  std::uint64_t messages_received = 0; ///< decoded (probes included)
  std::uint64_t bytes_received = 0;
  std::uint64_t rejected = 0;          ///< refused by the van's checks
  std::uint64_t send_failures = 0;     ///< dropped on the way out
  std::uint64_t rtt_samples = 0;       ///< pongs matched to their ping; 0: the rtt fields mean nothing yet
  double rtt_s = 0;                    ///< smoothed: 7/8 of the previous estimate + 1/8 of the sample (TCP's SRTT)
  double rtt_min_s = 0;                ///< the smallest sample (the link without queueing)
  double rtt_last_s = 0;               ///< the latest sample
  std::uint64_t probes_unanswered = 0; ///< probes given up on after `probe_timeout` without a pong
};

class peer_table {
public:
  using clock = std::chrono::steady_clock;

  explicit peer_table(std::size_t max_peers = 256) : max_peers_(max_peers) {}

  /// The entry `name` is counted under (created if the bound allows, else the unknown bucket).
  peer_stats& at(const std::string& name);
  /// The unknown bucket.
  peer_stats& unknown() { return entries_[unknown_peer].stats; }

  /// Starts a probe of `peer` at `now` and returns its id, or nothing while an earlier probe is
  /// outstanding and younger than `timeout` (an older one is counted unanswered and replaced).
  std::optional<std::uint64_t> start_probe(const std::string& peer, clock::time_point now, clock::duration timeout);
  /// A pong for probe `id` from `peer` arrived at `now`: true if it answered the outstanding probe,
  /// whose round trip then updates the estimate; false (and nothing changes) otherwise.
  bool finish_probe(const std::string& peer, std::uint64_t id, clock::time_point now);

  /// Every entry by printable name (the unknown bucket only once something was counted in it).
  std::map<std::string, peer_stats> snapshot() const;
  /// Named entries held (the unknown bucket not included); never more than max_peers.
  std::size_t size() const;

private:
  struct entry {
    peer_stats stats;
    std::optional<std::uint64_t> probe; ///< the outstanding probe's id
    clock::time_point probe_sent{};
  };
  entry* find(const std::string& name);

  std::size_t max_peers_;
  std::uint64_t next_probe_ = 1;
  std::map<std::string, entry> entries_; // by printable name; unknown_peer included once used
};

} // namespace troupe::net
