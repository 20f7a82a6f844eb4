/// The van's I/O thread: the only code that touches its ZeroMQ sockets.

#include <cstring>

#include "common/error.hpp"
#include "net/van_impl.hpp"

namespace troupe::net {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_receives_per_poll = 64; // per socket, so one busy peer cannot starve the rest

/// A received frame and what keeps its peer's in-flight count up while the frame is alive.
struct held_frame {
  zmq::message_t part;
  std::shared_ptr<void> ticket;
};

/// A received frame as a payload that keeps the zmq message (and so its buffer) alive.
payload to_payload(zmq::message_t&& part, std::shared_ptr<void> ticket) {
  auto owner = std::make_shared<held_frame>(held_frame{std::move(part), std::move(ticket)});
  const auto* p = static_cast<const std::byte*>(owner->part.data());
  const std::size_t n = owner->part.size();
  return payload(std::shared_ptr<const void>(std::move(owner)), p, n);
}

/// Counts `bytes` against a peer until the last frame holding the returned ticket is released.
std::shared_ptr<void> make_ticket(std::shared_ptr<std::atomic<std::uint64_t>> counter, std::uint64_t bytes) {
  *counter += bytes;
  return std::shared_ptr<void>(nullptr, [counter = std::move(counter), bytes](void*) { *counter -= bytes; });
}

/// The ZAP user id libzmq attached to a frame received over CURVE; empty if none (inproc, plaintext).
std::string user_id_of(const zmq::message_t& part) {
  const char* v = zmq_msg_gets(part.handle(), "User-Id");
  return v == nullptr ? std::string() : std::string(v);
}

constexpr std::size_t max_tracked_peers = 4096; // bounds the in-flight table against made-up names

} // namespace

void van::impl::run() {
  try {
    loop();
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lk(stats_mu);
    st.last_send_failure = fmt::format("I/O thread of van '{}' ended: {}", opt.node_name, e.what());
  }
  // Whatever was queued before stop() still goes to ZeroMQ; binds and connects fail.
  std::deque<command> rest;
  {
    std::lock_guard<std::mutex> lk(mu);
    stopped = true;
    rest.swap(queue);
  }
  for (auto& c : rest)
    execute(c, true);
  shutdown();
}

void van::impl::loop() {
  for (;;) {
    // Poll set: wake-up, ROUTER, then every DEALER (POLLOUT too while ZeroMQ refused it something).
    std::vector<zmq::pollitem_t> items{{wake_rx.handle(), 0, ZMQ_POLLIN, 0}, {router.handle(), 0, ZMQ_POLLIN, 0}};
    if (monitor) // never a null socket in the set: zmq_poll would take it for file descriptor 0
      items.push_back({monitor.handle(), 0, ZMQ_POLLIN, 0});
    const std::size_t first_dealer = items.size();
    std::vector<std::pair<const std::string*, zmq::socket_t*>> polled;
    for (auto& [name, s] : dealers) {
      const bool blocked = !dealer_backlog[name].empty();
      items.push_back({s.handle(), 0, static_cast<short>(ZMQ_POLLIN | (blocked ? ZMQ_POLLOUT : 0)), 0});
      polled.emplace_back(&name, &s);
    }
    try {
      zmq::poll(items, has_backlog() ? 5ms : 250ms);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR)
        throw;
      continue;
    }
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t m;
      while (wake_rx.recv(m, zmq::recv_flags::dontwait)) {
      }
    }
    std::deque<command> cmds;
    bool stopping = false;
    {
      std::lock_guard<std::mutex> lk(mu);
      cmds.swap(queue);
      wake_pending = false;
      stopping = stopped;
    }
    for (auto& c : cmds)
      execute(c, stopping);
    if (items[1].revents & ZMQ_POLLIN)
      receive_from(router, nullptr);
    if (monitor && (items[2].revents & ZMQ_POLLIN))
      read_monitor();
    for (std::size_t i = 0; i < polled.size(); ++i)
      if (items[i + first_dealer].revents & ZMQ_POLLIN)
        receive_from(*polled[i].second, polled[i].first);
    flush_backlogs();
    if (stopping)
      return;
  }
}

void van::impl::execute(command& c, bool stopping) {
  if (auto* s = std::get_if<send_cmd>(&c)) {
    if (!s->frames.empty())
      enqueue(std::move(*s));
  } else if (auto* b = std::get_if<bind_cmd>(&c)) {
    try {
      TROUPE_ENFORCE(!stopping, "van '{}' is stopping", opt.node_name);
      router.bind(b->endpoint);
      b->done.set_value(router.get(zmq::sockopt::last_endpoint));
    } catch (...) {
      b->done.set_exception(std::current_exception());
    }
  } else if (auto* k = std::get_if<connect_cmd>(&c)) {
    try {
      TROUPE_ENFORCE(!stopping, "van '{}' is stopping", opt.node_name);
      zmq::socket_t dealer(ctx.native(), zmq::socket_type::dealer);
      configure(dealer);
      dealer.set(zmq::sockopt::routing_id, opt.node_name); // the peer's ROUTER addresses us by name
      if (opt.curve.enabled && k->endpoint.rfind("inproc://", 0) != 0) {
        auto key = opt.curve.peers.find(k->peer);
        TROUPE_ENFORCE(key != opt.curve.peers.end(), "van '{}': CURVE is on but no public key is known for peer '{}'",
                       opt.node_name, k->peer);
        dealer.set(zmq::sockopt::curve_serverkey, key->second);
        dealer.set(zmq::sockopt::curve_publickey, opt.curve.own.public_key);
        dealer.set(zmq::sockopt::curve_secretkey, opt.curve.own.secret_key);
      }
      dealer.connect(k->endpoint);
      dealers.emplace(k->peer, std::move(dealer));
      k->done.set_value();
    } catch (...) {
      {
        std::lock_guard<std::mutex> lk(mu);
        dealer_routes.erase(k->peer);
        inproc_dealers.erase(k->peer);
      }
      k->done.set_exception(std::current_exception());
    }
  }
}

void van::impl::receive_from(zmq::socket_t& s, const std::string* dealer_peer) {
  for (std::size_t i = 0; i < max_receives_per_poll; ++i)
    if (!receive_one(s, dealer_peer))
      return;
}

bool van::impl::receive_one(zmq::socket_t& s, const std::string* dealer_peer) {
  std::vector<zmq::message_t> parts;
  std::string identity;
  std::uint64_t bytes = 0;
  std::size_t received = 0;
  bool overflow = false;
  for (bool more = true; more;) {
    zmq::message_t part;
    if (!s.recv(part, zmq::recv_flags::dontwait)) {
      if (received == 0)
        return false;
      break; // cannot happen: ZeroMQ delivers all parts of a message at once
    }
    more = part.more();
    bytes += part.size();
    const bool is_identity = dealer_peer == nullptr && received == 0;
    ++received;
    if (is_identity)
      identity = part.to_string();
    else if (parts.size() <= opt.lim.max_pieces) // the header and its pieces
      parts.push_back(std::move(part));
    else
      overflow = true; // keep draining, keep nothing
  }
  const auto arrived = peer_table::clock::now(); // a pong's round trip ends here
  const std::string& peer = dealer_peer ? *dealer_peer : identity;
  if (!opt.known_peers.empty() && opt.known_peers.count(peer) == 0) {
    reject(peer,
           {decode_error::unauthenticated,
            fmt::format("connection calls itself '{}', which is not a node of this cluster", printable_name(peer))},
           false);
    return true;
  }
  // Over CURVE, libzmq names the key that passed the handshake; it must be the sender's own.
  if (opt.curve.enabled && dealer_peer == nullptr && !parts.empty()) {
    const std::string user = user_id_of(parts.front());
    if (!user.empty() && user != peer) {
      reject(peer,
             {decode_error::unauthenticated,
              fmt::format("connection calls itself '{}' but holds the key of node '{}'", printable_name(peer), user)},
             false);
      return true;
    }
  }
  // From here on the name is the one the transport vouches for: refusals are counted under it.
  if (overflow) {
    reject(peer,
           {decode_error::too_many_frames, fmt::format("message has more than {} frames after the header, the limit "
                                                       "(max_pieces)",
                                                       opt.lim.max_pieces)},
           true);
    return true;
  }
  auto tracked = inflight.find(peer);
  auto counter = tracked != inflight.end() ? tracked->second : std::make_shared<std::atomic<std::uint64_t>>(0);
  if (const std::uint64_t held = counter->load(); held + bytes > opt.max_peer_inflight_bytes) {
    reject(peer,
           {decode_error::flooding,
            fmt::format("{} bytes of this peer's earlier messages are still unprocessed; {} more would pass the "
                        "limit of {} (max_peer_inflight_bytes)",
                        held, bytes, opt.max_peer_inflight_bytes)},
           true);
    return true;
  }
  auto ticket = make_ticket(counter, bytes);
  std::vector<payload> frames;
  frames.reserve(parts.size());
  for (auto& part : parts)
    frames.push_back(to_payload(std::move(part), ticket));
  // A tensor assembled from pieces holds the ticket instead of the pieces it was copied from.
  auto result = decode(std::move(frames), opt.lim, opt.cluster_id, {&pool, ticket});
  ticket.reset();
  if (!result) {
    reject(peer, result.error(), true);
    return true;
  }
  message m = std::move(result).value();
  if (m.h.sender != peer) {
    reject(peer,
           {decode_error::bad_header, fmt::format("header names sender '{}' but the connection belongs to '{}'",
                                                  printable_name(m.h.sender), printable_name(peer))},
           true);
    return true;
  }
  if (tracked == inflight.end()) {
    if (inflight.size() >= max_tracked_peers)
      for (auto it = inflight.begin(); it != inflight.end();)
        it = it->second->load() == 0 ? inflight.erase(it) : std::next(it);
    inflight.emplace(peer, std::move(counter));
  }
  if (dealer_peer == nullptr) {
    std::lock_guard<std::mutex> lk(mu);
    router_routes.insert(peer);
  }
  {
    std::lock_guard<std::mutex> lk(stats_mu);
    ++st.messages_received;
    st.bytes_received += bytes;
    auto& p = peers.at(peer);
    ++p.messages_received;
    p.bytes_received += bytes;
  }
  if (m.h.type == msg_type::ping || m.h.type == msg_type::pong)
    answer_probe(peer, m, arrived);
  else
    deliver(std::move(m));
  return true;
}

void van::impl::answer_probe(const std::string& peer, const message& m, peer_table::clock::time_point received) {
  if (m.h.type == msg_type::pong) {
    std::lock_guard<std::mutex> lk(stats_mu);
    (void)peers.finish_probe(peer, m.h.clock, received); // a stale or made-up echo changes nothing
    return;
  }
  message pong(msg_type::pong);
  pong.h.clock = m.h.clock;
  enqueue(make_send(peer, std::move(pong))); // at once, from this thread: the round trip spends no time here
}

void van::impl::read_monitor() {
  for (std::size_t i = 0; i < max_receives_per_poll; ++i) {
    zmq::message_t event, address;
    if (!monitor.recv(event, zmq::recv_flags::dontwait))
      return;
    if (!event.more() || !monitor.recv(address, zmq::recv_flags::dontwait) || event.size() < 6)
      continue;
    std::uint16_t id = 0;
    std::uint32_t value = 0;
    std::memcpy(&id, event.data(), sizeof id);
    std::memcpy(&value, static_cast<const char*>(event.data()) + 2, sizeof value);
    // ZAP refusals (an unlisted key) are already reported, with the key, by the ZAP handler.
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH || (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL && value == EACCES))
      continue;
    std::string what;
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
      what = "the peer does not speak CURVE (plaintext)";
    else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC || value == ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE)
      what = "cryptographic error (the peer expects another server key, or sent garbage)";
    else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
      what = fmt::format("protocol error 0x{:08x} (not a ZeroMQ/CURVE peer?)", value);
    else
      what = fmt::format("the peer went away during the handshake ({})", zmq_strerror(static_cast<int>(value)));
    reject(address.to_string(),
           {decode_error::unauthenticated, fmt::format("CURVE handshake on {} failed: {}", address.to_string(), what)},
           false);
  }
}

void van::impl::deliver(message&& m) {
  std::shared_ptr<const van::handler> h;
  {
    std::lock_guard<std::mutex> lk(mu);
    h = on_message;
  }
  if (!h) {
    std::lock_guard<std::mutex> lk(stats_mu);
    ++st.unhandled;
    return;
  }
  try {
    (*h)(std::move(m));
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lk(stats_mu);
    ++st.handler_errors;
    st.last_handler_error = e.what();
  }
}

void van::impl::reject(const std::string& peer, const decode_error& e, bool attributable) {
  {
    std::lock_guard<std::mutex> lk(stats_mu);
    ++st.rejected;
    ++st.rejected_by_reason[e.code];
    ++(attributable ? peers.at(peer) : peers.unknown()).rejected;
    st.last_rejection = fmt::format("from '{}': {}: {}", printable_name(peer), to_string(e.code), e.detail);
  }
  if (opt.on_reject) {
    try {
      opt.on_reject(peer, e);
    } catch (...) {
      // The callback only observes; its failure must not take the node down.
    }
  }
}

} // namespace troupe::net
