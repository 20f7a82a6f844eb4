#include "net/van.hpp"

#include <algorithm>
#include <limits>

#include "common/error.hpp"
#include "net/van_impl.hpp"

namespace troupe::net {

namespace {

std::atomic<std::uint64_t> wake_counter{0}; // makes each van's inproc wake-up endpoint unique

/// Waits for the I/O thread's answer; an exception it stored is rethrown as troupe::error.
template <class T>
T await(std::future<T>& f, std::chrono::milliseconds timeout, const std::string& what) {
  TROUPE_ENFORCE(f.wait_for(timeout) == std::future_status::ready, "{}: no answer from the I/O thread within {} ms",
                 what, timeout.count());
  try {
    return f.get();
  } catch (const troupe::error&) {
    throw;
  } catch (const std::exception& e) {
    throw troupe::error(fmt::format("{}: {}", what, e.what()));
  }
}

} // namespace

van::impl::impl(van_options o)
    : opt(std::move(o)), ctx(opt.ctx ? opt.ctx : context::create(1)), peers(opt.max_peer_entries),
      pool(opt.pool_idle_bytes) {
  TROUPE_ENFORCE(!opt.node_name.empty() && opt.node_name.size() <= 255 && opt.node_name[0] != '\0',
                 "a node name must have 1 to 255 bytes and not start with a zero byte (ZeroMQ routing id), got '{}'",
                 opt.node_name);
  TROUPE_ENFORCE(opt.send_hwm > 0, "send_hwm must be positive, got {}", opt.send_hwm);
  auto& z = ctx.native();
  const auto wake_ep = fmt::format("inproc://troupe-van-wake-{}-{}", opt.node_name, wake_counter++);
  wake_rx = zmq::socket_t(z, zmq::socket_type::pair);
  wake_rx.set(zmq::sockopt::linger, 0);
  wake_rx.bind(wake_ep);
  wake_tx = zmq::socket_t(z, zmq::socket_type::pair);
  wake_tx.set(zmq::sockopt::linger, 0);
  wake_tx.connect(wake_ep);
  router = zmq::socket_t(z, zmq::socket_type::router);
  configure(router);
  router.set(zmq::sockopt::router_mandatory, true); // a reply to a vanished peer fails instead of vanishing
  router.set(zmq::sockopt::router_handover, true);  // a restarted node takes its name back
  if (opt.curve.enabled)
    setup_curve_server();
}

void van::impl::setup_curve_server() {
  TROUPE_ENFORCE(curve_available(), "van '{}': CURVE is on but this libzmq was built without it", opt.node_name);
  TROUPE_ENFORCE(is_curve_key(opt.curve.own.public_key) && is_curve_key(opt.curve.own.secret_key),
                 "van '{}': CURVE is on but the node has no valid key pair", opt.node_name);
  TROUPE_ENFORCE(curve_public_of(opt.curve.own.secret_key) == opt.curve.own.public_key,
                 "van '{}': its public key does not belong to its secret key", opt.node_name);
  std::map<std::string, std::string> key_to_name;
  for (const auto& [name, key] : opt.curve.peers) {
    auto [it, fresh] = key_to_name.emplace(key, name);
    TROUPE_ENFORCE(fresh || it->second == name, "nodes '{}' and '{}' list the same public key {}", it->second, name,
                   key);
  }
  zap_domain = "troupe:" + opt.node_name;
  // The ZAP handler must exist before the first handshake, i.e. before bind().
  ctx.zap_allow(zap_domain, key_to_name, [this](const std::string& address, const std::string& why) {
    reject(address, {decode_error::unauthenticated, fmt::format("CURVE handshake refused: {}", why)}, false);
  });
  router.set(zmq::sockopt::curve_server, true);
  router.set(zmq::sockopt::curve_secretkey, opt.curve.own.secret_key);
  router.set(zmq::sockopt::zap_domain, zap_domain);
  // Failed handshakes (a plaintext peer, a client that expects another server key, garbage) are
  // reported by libzmq's socket monitor; the I/O thread reads them next to the data sockets.
  const auto mon_ep = fmt::format("inproc://troupe-van-monitor-{}-{}", opt.node_name, wake_counter++);
  TROUPE_ENFORCE(zmq_socket_monitor(router.handle(), mon_ep.c_str(),
                                    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0,
                 "van '{}': zmq_socket_monitor failed: {}", opt.node_name, zmq_strerror(zmq_errno()));
  monitor = zmq::socket_t(ctx.native(), zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(mon_ep);
}

void van::impl::configure(zmq::socket_t& s) const {
  const std::uint64_t max_frame = std::max<std::uint64_t>(opt.lim.max_message_bytes, opt.lim.max_header_bytes);
  s.set(zmq::sockopt::sndhwm, opt.send_hwm);
  // Enforced by ZeroMQ on tcp/ipc only (not inproc); decode() checks sizes on every transport.
  s.set(zmq::sockopt::maxmsgsize,
        static_cast<std::int64_t>(std::min<std::uint64_t>(max_frame, std::numeric_limits<std::int64_t>::max())));
  s.set(zmq::sockopt::linger, static_cast<int>(opt.linger.count()));
  s.set(zmq::sockopt::reconnect_ivl, static_cast<int>(opt.reconnect_ivl.count()));
  s.set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(opt.reconnect_ivl_max.count()));
}

std::size_t van::impl::piece_bytes_for_locked(const std::string& peer) const {
  if (dealer_routes.count(peer) != 0)
    return inproc_dealers.count(peer) != 0 ? 0 : opt.piece_bytes;
  return router_beyond_process ? opt.piece_bytes : 0;
}

void van::impl::post_locked(command c) {
  queue.push_back(std::move(c));
  if (!wake_pending) {
    wake_pending = true;
    // An empty frame is enough; if the pipe were full the I/O thread is awake anyway.
    (void)wake_tx.send(zmq::message_t(), zmq::send_flags::dontwait);
  }
}

van::van(van_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {
  impl_->io = std::thread([p = impl_.get()] { p->run(); });
}

van::~van() {
  stop();
}

std::string van::bind(const std::string& endpoint) {
  std::future<std::string> done;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    TROUPE_ENFORCE(!impl_->stopped, "van '{}' is stopped: cannot bind {}", name(), endpoint);
    impl_->router_beyond_process |= endpoint.rfind("inproc://", 0) != 0;
    bind_cmd c{endpoint, {}};
    done = c.done.get_future();
    impl_->post_locked(std::move(c));
  }
  return await(done, impl_->opt.op_timeout, fmt::format("van '{}' binding {}", name(), endpoint));
}

void van::connect(const std::string& peer_name, const std::string& endpoint) {
  std::future<void> done;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    TROUPE_ENFORCE(!impl_->stopped, "van '{}' is stopped: cannot connect to '{}'", name(), peer_name);
    TROUPE_ENFORCE(!peer_name.empty() && peer_name.size() <= 255, "peer name '{}' is not a valid node name", peer_name);
    TROUPE_ENFORCE(impl_->dealer_routes.insert(peer_name).second, "van '{}' is already connected to '{}'", name(),
                   peer_name);
    if (endpoint.rfind("inproc://", 0) == 0)
      impl_->inproc_dealers.insert(peer_name);
    connect_cmd c{peer_name, endpoint, {}};
    done = c.done.get_future();
    impl_->post_locked(std::move(c));
  }
  await(done, impl_->opt.op_timeout, fmt::format("van '{}' connecting to '{}' at {}", name(), peer_name, endpoint));
}

send_cmd van::impl::make_send(const std::string& peer, message m) {
  m.h.cluster_id = opt.cluster_id;
  m.h.sender = opt.node_name;
  m.h.seq = next_seq++;
  std::size_t piece_bytes = 0;
  {
    std::lock_guard<std::mutex> lk(mu);
    piece_bytes = piece_bytes_for_locked(peer);
  }
  send_cmd c{peer, encode(m, opt.lim, piece_bytes, opt.whole_up_to), 0, m.h.type};
  for (const auto& f : c.frames)
    c.bytes += f.size();
  return c;
}

void van::send(const std::string& peer_name, message m) {
  send_cmd c = impl_->make_send(peer_name, std::move(m));
  std::lock_guard<std::mutex> lk(impl_->mu);
  TROUPE_ENFORCE(!impl_->stopped, "van '{}' is stopped: cannot send {} to '{}'", name(), to_string(c.type), peer_name);
  TROUPE_ENFORCE(impl_->dealer_routes.count(peer_name) != 0 || impl_->router_routes.count(peer_name) != 0,
                 "van '{}' has no route to '{}': connect() to it, or wait until it has sent to us", name(), peer_name);
  impl_->post_locked(std::move(c));
}

void van::set_handler(handler on_message) {
  auto h = on_message ? std::make_shared<const handler>(std::move(on_message)) : nullptr;
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->on_message = std::move(h);
}

bool van::probe(const std::string& peer_name) {
  if (!has_route(peer_name))
    return false;
  std::optional<std::uint64_t> id;
  {
    std::lock_guard<std::mutex> lk(impl_->stats_mu);
    id = impl_->peers.start_probe(peer_name, peer_table::clock::now(), impl_->opt.probe_timeout);
  }
  if (!id)
    return false;
  message m(msg_type::ping);
  m.h.clock = *id; // the pong echoes it (net/peer_table.hpp)
  try {
    send(peer_name, std::move(m));
  } catch (const troupe::error&) {
    return false; // stopped meanwhile: the probe stays outstanding until it times out
  }
  return true;
}

bool van::has_route(const std::string& peer_name) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  return impl_->dealer_routes.count(peer_name) != 0 || impl_->router_routes.count(peer_name) != 0;
}

van::stats van::counters() const {
  std::lock_guard<std::mutex> lk(impl_->stats_mu);
  auto s = impl_->st;
  s.peers = impl_->peers.snapshot();
  return s;
}

void van::stop() {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (!impl_->stopped) {
      impl_->stopped = true;
      impl_->post_locked(send_cmd{}); // an empty command only wakes the I/O thread
    }
  }
  if (std::this_thread::get_id() == impl_->io.get_id())
    return; // stop() from the handler: the loop ends after this message, the destructor joins
  std::lock_guard<std::mutex> j(impl_->join_mu);
  if (impl_->io.joinable())
    impl_->io.join();
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->wake_tx.close();
}

const std::string& van::name() const noexcept {
  return impl_->opt.node_name;
}

} // namespace troupe::net
