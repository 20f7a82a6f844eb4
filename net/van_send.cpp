/// The van's outgoing path on the I/O thread: per-peer backlogs handed to ZeroMQ without blocking.

#include "common/error.hpp"
#include "net/van_impl.hpp"

namespace troupe::net {

namespace {

constexpr std::size_t zero_copy_min_bytes = 1024; // smaller frames are copied: cheaper than a free callback

/// ZeroMQ's free callback for a frame sent in place: drops the payload owner's reference (on a
/// libzmq thread; named so scripts/tsan.supp can name this hand-off through ZeroMQ's pipe).
void release_zero_copy_owner(void*, void* hint) {
  delete static_cast<std::shared_ptr<const void>*>(hint);
}

/// A frame for ZeroMQ. Large frames are sent in place: a heap copy of the payload's owner rides along
/// as the free-function hint and is released (on a libzmq thread) once ZeroMQ is done with the bytes.
zmq::message_t to_zmq(const payload& p) {
  if (p.size() < zero_copy_min_bytes)
    return zmq::message_t(p.data(), p.size());
  auto keep = std::make_unique<std::shared_ptr<const void>>(p.owner());
  zmq::message_t m(const_cast<std::byte*>(p.data()), p.size(), release_zero_copy_owner, keep.get());
  (void)keep.release(); // owned by ZeroMQ now
  return m;
}

} // namespace

void van::impl::enqueue(send_cmd&& c) {
  // A DEALER we opened is preferred; otherwise the peer reached us and we answer through the ROUTER.
  auto& q = dealers.count(c.peer) != 0 ? dealer_backlog[c.peer] : router_backlog[c.peer];
  if (q.size() >= static_cast<std::size_t>(opt.send_hwm)) {
    fail_send(c, fmt::format("{} messages already wait for ZeroMQ to accept them", q.size()));
    return;
  }
  q.push_back(std::move(c));
}

bool van::impl::has_backlog() const {
  for (const auto* b : {&dealer_backlog, &router_backlog})
    for (const auto& [peer, q] : *b)
      if (!q.empty())
        return true;
  return false;
}

void van::impl::flush_backlogs() {
  for (auto& [peer, q] : dealer_backlog)
    if (!q.empty())
      flush(q, dealers.at(peer), nullptr);
  for (auto it = router_backlog.begin(); it != router_backlog.end();) {
    flush(it->second, router, &it->first);
    it = it->second.empty() ? router_backlog.erase(it) : std::next(it);
  }
}

void van::impl::flush(std::deque<send_cmd>& q, zmq::socket_t& s, const std::string* identity) {
  constexpr auto more = zmq::send_flags::dontwait | zmq::send_flags::sndmore;
  while (!q.empty()) {
    const send_cmd& c = q.front();
    try {
      // The first frame is the only one ZeroMQ may refuse for a full queue (HWM counts whole
      // messages), and refusing it commits nothing: leave the message queued and retry later.
      // An unknown ROUTER identity throws EHOSTUNREACH (ZMQ_ROUTER_MANDATORY).
      if (identity != nullptr && !s.send(zmq::buffer(*identity), more))
        return;
      for (std::size_t i = 0; i < c.frames.size(); ++i) {
        const bool last = i + 1 == c.frames.size();
        if (!s.send(to_zmq(c.frames[i]), last ? zmq::send_flags::dontwait : more)) {
          if (i == 0 && identity == nullptr)
            return;
          throw troupe::error(fmt::format("ZeroMQ refused frame {} of {} in mid-message", i, c.frames.size()));
        }
      }
      std::lock_guard<std::mutex> lk(stats_mu);
      ++st.messages_sent;
      st.bytes_sent += c.bytes;
      auto& p = peers.at(c.peer);
      ++p.messages_sent;
      p.bytes_sent += c.bytes;
    } catch (const std::exception& e) {
      fail_send(c, e.what());
    }
    q.pop_front();
  }
}

void van::impl::fail_send(const send_cmd& c, const std::string& why) {
  std::lock_guard<std::mutex> lk(stats_mu);
  ++st.send_failures;
  ++peers.at(c.peer).send_failures;
  st.last_send_failure = fmt::format("{} to '{}' dropped: {}", to_string(c.type), c.peer, why);
}

void van::impl::shutdown() {
  try {
    flush_backlogs();
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lk(stats_mu);
    st.last_send_failure = fmt::format("final flush of van '{}': {}", opt.node_name, e.what());
  }
  for (auto* b : {&dealer_backlog, &router_backlog})
    for (auto& [peer, q] : *b) {
      for (const auto& c : q)
        fail_send(c, "the van stopped before ZeroMQ accepted it");
      q.clear();
    }
  // Closing never blocks: ZeroMQ keeps delivering queued messages for `linger` in the background.
  if (monitor) {
    (void)zmq_socket_monitor(router.handle(), nullptr, 0);
    monitor.close();
  }
  if (!zap_domain.empty())
    ctx.zap_forget(zap_domain); // after this the ZAP thread never calls into this van again
  router.close();
  for (auto& [peer, s] : dealers)
    s.close();
  dealers.clear();
  wake_rx.close();
}

} // namespace troupe::net
