#pragma once
/// The van's private state, shared by van.cpp (the caller-facing API) and van_io.cpp (the I/O thread).
/// Internal to net/: includes zmq.hpp, so it must not be included by public headers.

#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <variant>
#include <vector>

#include <zmq.hpp>

#include "net/buffer_pool.hpp"
#include "net/van.hpp"

namespace troupe::net {

/// An encoded message on its way to one peer.
struct send_cmd {
  std::string peer;
  std::vector<payload> frames; ///< header frame first
  std::uint64_t bytes = 0;
  msg_type type = msg_type::heartbeat; ///< for error messages
};
struct bind_cmd {
  std::string endpoint;
  std::promise<std::string> done;
};
struct connect_cmd {
  std::string peer;
  std::string endpoint;
  std::promise<void> done;
};
using command = std::variant<send_cmd, bind_cmd, connect_cmd>;

struct van::impl {
  explicit impl(van_options o);

  // ---- fixed at construction ----
  van_options opt;
  context ctx; // declared before every socket, so it outlives them

  // ---- shared between callers and the I/O thread, guarded by mu ----
  mutable std::mutex mu;
  std::deque<command> queue;
  bool wake_pending = false;            // a wake-up is in flight; the I/O thread clears it when it takes the queue
  bool stopped = false;                 // no new work is accepted
  std::set<std::string> dealer_routes;  // peers we connect()ed to
  std::set<std::string> router_routes;  // peers whose valid message arrived on the ROUTER
  std::set<std::string> inproc_dealers; // connect()ed over inproc://: whole frames, never pieces
  bool router_beyond_process = false;   // some bind() was tcp:// or ipc://: answers go in pieces
  zmq::socket_t wake_tx;                // PAIR; callers send an empty frame to wake the I/O thread
  std::shared_ptr<const van::handler> on_message;
  std::atomic<std::uint64_t> next_seq{1};

  mutable std::mutex stats_mu;
  van_stats st;     // the totals; st.peers stays empty (counters() fills it from `peers`)
  peer_table peers; // per peer, guarded by stats_mu

  std::mutex join_mu;

  // ---- owned by the I/O thread once it runs ----
  zmq::socket_t wake_rx;
  zmq::socket_t router;
  std::map<std::string, zmq::socket_t> dealers;
  std::map<std::string, std::deque<send_cmd>> dealer_backlog; // messages ZeroMQ refused for now (HWM)
  std::map<std::string, std::deque<send_cmd>> router_backlog;
  zmq::socket_t monitor;  // PAIR fed by zmq_socket_monitor(router): failed handshakes (CURVE only)
  std::string zap_domain; // "troupe:<node>" when CURVE is on
  /// Per peer: received bytes still referenced by undelivered or unreleased payloads (see
  /// van_options::max_peer_inflight_bytes). The counters are decremented from any thread.
  std::map<std::string, std::shared_ptr<std::atomic<std::uint64_t>>> inflight;
  buffer_pool pool; // tensors that arrived in pieces are assembled here
  std::thread io;   // last: started when everything above exists

  /// opt.piece_bytes, or 0 for a peer reached over inproc://; mu must be held.
  std::size_t piece_bytes_for_locked(const std::string& peer) const;
  /// Queues a command and wakes the I/O thread; mu must be held.
  void post_locked(command c);
  /// Stamps m (cluster id, sender, seq) and encodes it for `peer` (any thread).
  send_cmd make_send(const std::string& peer, message m);

  // I/O thread (van_io.cpp)
  void run();
  void loop();
  void execute(command& c, bool stopping);
  void receive_from(zmq::socket_t& s, const std::string* dealer_peer);
  bool receive_one(zmq::socket_t& s, const std::string* dealer_peer);
  void deliver(message&& m);
  void answer_probe(const std::string& peer, const message& m, peer_table::clock::time_point received);
  /// Counts a refusal; under `peer` when the transport vouches for that name, else under unknown_peer.
  void reject(const std::string& peer, const decode_error& e, bool attributable);
  void enqueue(send_cmd&& c);
  bool has_backlog() const;
  void flush_backlogs();
  void flush(std::deque<send_cmd>& q, zmq::socket_t& s, const std::string* identity);
  void fail_send(const send_cmd& c, const std::string& why);
  void shutdown();
  void configure(zmq::socket_t& s) const;
  void setup_curve_server();
  void read_monitor();
};

} // namespace troupe::net
