#include "tests/support/fault_proxy.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::test {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t read_size = 64 * 1024;
constexpr std::size_t max_queued = 8 * 1024 * 1024; // per direction; beyond it the proxy stops reading

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

std::string errno_text() {
  return std::strerror(errno);
}

/// A connected socket to `target` (tcp://a.b.c.d:port or ipc://path), non-blocking; -1 if refused.
int connect_to(const std::string& target) {
  if (target.rfind("ipc://", 0) == 0) {
    const std::string path = target.substr(6);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    TROUPE_ENFORCE(path.size() < sizeof(a.sun_path), "fault proxy: ipc path '{}' is too long for a unix socket", path);
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    TROUPE_ENFORCE(fd >= 0, "fault proxy: socket(AF_UNIX): {}", errno_text());
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(fd);
      return -1;
    }
    set_nonblocking(fd);
    return fd;
  }
  TROUPE_ENFORCE(target.rfind("tcp://", 0) == 0, "fault proxy: target '{}' is neither tcp:// nor ipc://", target);
  const auto colon = target.rfind(':');
  TROUPE_ENFORCE(colon != std::string::npos && colon > 6, "fault proxy: target '{}' has no port", target);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(target.substr(colon + 1))));
  const std::string host = target.substr(6, colon - 6);
  TROUPE_ENFORCE(::inet_pton(AF_INET, host.c_str(), &a.sin_addr) == 1,
                 "fault proxy: target host '{}' is not an IPv4 address", host);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  TROUPE_ENFORCE(fd >= 0, "fault proxy: socket(AF_INET): {}", errno_text());
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  set_nonblocking(fd);
  return fd;
}

struct chunk {
  clock_type::time_point due;
  std::vector<char> bytes;
  std::size_t offset = 0;
};

/// One direction of a relayed connection: what was read from one side and waits to be written to the other.
struct flow {
  std::deque<chunk> queue;
  std::size_t queued = 0;
  clock_type::time_point last_due{};
  bool eof = false;  // the reading side closed its write half
  bool shut = false; // ... and everything was written on, so the other side's write half is shut too

  bool can_read() const { return !eof && queued < max_queued; }
  bool ready(clock_type::time_point now) const { return !queue.empty() && queue.front().due <= now; }
};

struct connection {
  std::size_t route = 0;
  int down = -1; // accepted from the connecting node
  int up = -1;   // to the target; -1 until connected (held while in blackhole)
  flow forward;  // down -> up
  flow backward; // up -> down
  bool dead = false;
};

struct route {
  int listen_fd = -1;
  std::string target;
};

} // namespace

struct fault_proxy::impl {
  std::mutex mu;
  mode m = mode::pass;
  std::chrono::milliseconds delay_ms{0}, jitter_ms{0};
  std::vector<route> routes; // appended under mu; the thread copies the listening fds
  bool stopping = false;

  std::atomic<std::uint64_t> accepted{0}, bytes_forward{0}, bytes_backward{0}, bytes_delayed{0}, refused{0};

  int wake_rx = -1, wake_tx = -1;
  std::list<connection> conns; // thread only
  std::mt19937 rng{12345};
  std::thread thread;

  void wake() {
    const char c = 1;
    [[maybe_unused]] const auto n = ::write(wake_tx, &c, 1);
  }

  void run();
  void accept_from(std::size_t r, const std::string& target, int listen_fd, mode now_mode);
  bool read_into(int fd, flow& f, mode now_mode, std::chrono::milliseconds d, std::chrono::milliseconds j);
  bool write_out(int fd, flow& f, std::atomic<std::uint64_t>& counter);
  void close_conn(connection& c);
};

fault_proxy::fault_proxy() : impl_(std::make_unique<impl>()) {
  int fds[2];
  TROUPE_ENFORCE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0, "fault proxy: pipe: {}", errno_text());
  impl_->wake_rx = fds[0];
  impl_->wake_tx = fds[1];
  impl_->thread = std::thread([p = impl_.get()] { p->run(); });
}

fault_proxy::~fault_proxy() {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake();
  impl_->thread.join();
  for (auto& c : impl_->conns)
    impl_->close_conn(c);
  for (auto& r : impl_->routes)
    ::close(r.listen_fd);
  ::close(impl_->wake_rx);
  ::close(impl_->wake_tx);
}

std::string fault_proxy::add_route(const std::string& target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  TROUPE_ENFORCE(fd >= 0, "fault proxy: socket: {}", errno_text());
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const auto why = errno_text();
    ::close(fd);
    throw error(fmt::format("fault proxy: cannot listen on 127.0.0.1 for '{}': {}", target, why));
  }
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->routes.push_back({fd, target});
  }
  impl_->wake();
  return fmt::format("tcp://127.0.0.1:{}", ntohs(a.sin_port));
}

void fault_proxy::pass() {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->m = mode::pass;
  impl_->wake();
}

void fault_proxy::delay(std::chrono::milliseconds ms, std::chrono::milliseconds jitter) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->m = mode::delay;
  impl_->delay_ms = ms;
  impl_->jitter_ms = jitter;
  impl_->wake();
}

void fault_proxy::blackhole() {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->m = mode::blackhole;
  impl_->wake();
}

fault_proxy::stats fault_proxy::counters() const {
  return {impl_->accepted.load(), impl_->bytes_forward.load(), impl_->bytes_backward.load(),
          impl_->bytes_delayed.load(), impl_->refused.load()};
}

void fault_proxy::impl::close_conn(connection& c) {
  if (c.down >= 0)
    ::close(c.down);
  if (c.up >= 0)
    ::close(c.up);
  c.down = c.up = -1;
  c.dead = true;
}

void fault_proxy::impl::accept_from(std::size_t r, const std::string& target, int listen_fd, mode now_mode) {
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return; // EAGAIN: all taken
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ++accepted;
    connection c;
    c.route = r;
    c.down = fd;
    if (now_mode != mode::blackhole) {
      c.up = connect_to(target);
      if (c.up < 0) {
        ++refused;
        ::close(fd);
        continue;
      }
    }
    conns.push_back(std::move(c));
  }
}

bool fault_proxy::impl::read_into(int fd, flow& f, mode now_mode, std::chrono::milliseconds d,
                                  std::chrono::milliseconds j) {
  chunk ch;
  ch.bytes.resize(read_size);
  const auto n = ::recv(fd, ch.bytes.data(), ch.bytes.size(), 0);
  if (n == 0) {
    f.eof = true;
    return true;
  }
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  ch.bytes.resize(static_cast<std::size_t>(n));
  auto due = clock_type::now();
  if (now_mode == mode::delay) {
    std::uniform_int_distribution<long> extra(0, std::max<long>(0, static_cast<long>(j.count())));
    due += d + std::chrono::milliseconds(extra(rng));
    bytes_delayed += static_cast<std::uint64_t>(n);
  }
  ch.due = std::max(due, f.last_due); // no chunk overtakes an earlier one: TCP keeps the byte order
  f.last_due = ch.due;
  f.queued += ch.bytes.size();
  f.queue.push_back(std::move(ch));
  return true;
}

bool fault_proxy::impl::write_out(int fd, flow& f, std::atomic<std::uint64_t>& counter) {
  const auto now = clock_type::now();
  while (f.ready(now)) {
    chunk& ch = f.queue.front();
    const auto n = ::send(fd, ch.bytes.data() + ch.offset, ch.bytes.size() - ch.offset, MSG_NOSIGNAL);
    if (n < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    ch.offset += static_cast<std::size_t>(n);
    counter += static_cast<std::uint64_t>(n);
    if (ch.offset < ch.bytes.size())
      return true; // the socket is full; POLLOUT says when to go on
    f.queued -= ch.bytes.size();
    f.queue.pop_front();
  }
  if (f.eof && f.queue.empty() && !f.shut) {
    ::shutdown(fd, SHUT_WR);
    f.shut = true;
  }
  return true;
}

void fault_proxy::impl::run() {
  std::vector<route> known;
  for (;;) {
    mode now_mode;
    std::chrono::milliseconds d, j;
    {
      std::lock_guard<std::mutex> lk(mu);
      if (stopping)
        return;
      now_mode = m;
      d = delay_ms;
      j = jitter_ms;
      known = routes;
    }
    const bool frozen = now_mode == mode::blackhole;
    // A connection accepted during a partition reaches its target once the partition heals.
    if (!frozen)
      for (auto& c : conns)
        if (!c.dead && c.up < 0) {
          c.up = connect_to(known[c.route].target);
          if (c.up < 0) {
            ++refused;
            close_conn(c);
          }
        }
    conns.remove_if([](const connection& c) { return c.dead; });

    const auto now = clock_type::now();
    std::vector<pollfd> fds{{wake_rx, POLLIN, 0}};
    for (const auto& r : known)
      fds.push_back({r.listen_fd, POLLIN, 0});
    auto timeout = std::chrono::milliseconds(200);
    for (auto& c : conns) {
      // In a partition the connection's sockets are left out of the poll set altogether, so
      // neither data nor a hang-up is noticed: the packets are dropped, as on a cut cable.
      const short down_ev =
          frozen ? 0 : static_cast<short>((c.forward.can_read() ? POLLIN : 0) | (c.backward.ready(now) ? POLLOUT : 0));
      const short up_ev =
          frozen ? 0 : static_cast<short>((c.backward.can_read() ? POLLIN : 0) | (c.forward.ready(now) ? POLLOUT : 0));
      fds.push_back({frozen ? -1 : c.down, down_ev, 0});
      fds.push_back({frozen ? -1 : c.up, up_ev, 0});
      if (!frozen)
        for (const flow* f : {&c.forward, &c.backward})
          if (!f->queue.empty() && f->queue.front().due > now)
            timeout =
                std::min(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(f->queue.front().due - now) +
                                      std::chrono::milliseconds(1));
    }
    const int rc = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    if (rc < 0 && errno != EINTR)
      throw error(fmt::format("fault proxy: poll: {}", errno_text()));
    {
      // What arrived during the poll is handled in the mode of now: bytes sent after delay()
      // or blackhole() returned are never relayed the old way.
      std::lock_guard<std::mutex> lk(mu);
      if (stopping)
        return;
      d = delay_ms;
      j = jitter_ms;
      if (m == mode::blackhole && !frozen)
        continue; // the sockets are left alone from now on
      now_mode = m;
    }
    if (fds[0].revents & POLLIN) {
      char buf[64];
      while (::read(wake_rx, buf, sizeof(buf)) > 0) {
      }
    }
    for (std::size_t r = 0; r < known.size(); ++r)
      if (fds[1 + r].revents & POLLIN)
        accept_from(r, known[r].target, known[r].listen_fd, now_mode);
    if (frozen)
      continue;
    std::size_t i = 1 + known.size();
    for (auto& c : conns) {
      if (i >= fds.size())
        break; // accepted in this round: polled next time
      const short down_rev = fds[i].revents, up_rev = fds[i + 1].revents;
      i += 2;
      bool ok = true;
      if (c.forward.can_read() && (down_rev & (POLLIN | POLLHUP | POLLERR)))
        ok = read_into(c.down, c.forward, now_mode, d, j);
      if (ok && c.backward.can_read() && (up_rev & (POLLIN | POLLHUP | POLLERR)))
        ok = read_into(c.up, c.backward, now_mode, d, j);
      if (ok)
        ok = write_out(c.up, c.forward, bytes_forward) && write_out(c.down, c.backward, bytes_backward);
      // An error, or a hang-up we cannot read (a full queue), ends the connection.
      if (!ok || ((down_rev | up_rev) & POLLERR) || ((down_rev & POLLHUP) && !c.forward.can_read()) ||
          ((up_rev & POLLHUP) && !c.backward.can_read()) || (c.forward.shut && c.backward.shut))
        close_conn(c);
    }
  }
}

} // namespace troupe::test
