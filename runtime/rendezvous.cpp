#include "runtime/rendezvous.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>
#include <variant>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "common/error.hpp"
#include "config/endpoint.hpp"
#include "config/launch.hpp"

namespace troupe::runtime {

namespace {

using clock = std::chrono::steady_clock;
constexpr std::size_t max_frame = 64 * 1024;

std::ostream& log_of(const rendezvous_options& o) {
  return o.log != nullptr ? *o.log : std::cerr;
}

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::size_t max_world_of(const rendezvous_options& o) {
  return std::max(o.world, o.max_world);
}

clock::time_point deadline_of(double seconds) {
  return clock::now() + std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

/// One process that announced itself.
struct member {
  std::string routing_id;
  std::string endpoint;
  std::string host;
  long long pid = 0;
};

void send_json(zmq::socket_t& s, const std::string& routing_id, const nlohmann::json& j) {
  const std::string text = j.dump();
  if (!routing_id.empty())
    (void)s.send(zmq::buffer(routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  (void)s.send(zmq::buffer(text), zmq::send_flags::dontwait);
}

/// The server's answer to one announcement: why it is refused, or nothing if admitted.
std::optional<std::string> check_announce(const rendezvous_options& o, const nlohmann::json& a,
                                          const std::string& key_name) {
  if (!a.is_object() || a.value("type", "") != "announce")
    return std::string("expected an announce message");
  for (const char* k : {"cluster", "name", "endpoint"})
    if (!a.contains(k) || !a[k].is_string())
      return fmt::format("the announcement has no '{}' text", k);
  for (const char* k : {"world", "rank"})
    if (!a.contains(k) || !a[k].is_number_unsigned())
      return fmt::format("the announcement has no '{}' number", k);
  const auto cluster = a["cluster"].get<std::string>();
  if (cluster != o.cluster_id)
    return fmt::format("this rendezvous serves cluster '{}', and the process announced cluster '{}': it belongs to "
                       "another job",
                       o.cluster_id, cluster);
  const auto world = a["world"].get<std::size_t>();
  if (world != o.world)
    return fmt::format("this job has {} processes, and the process was told {} by its launcher", o.world, world);
  const auto rank = a["rank"].get<std::size_t>();
  const auto name = a["name"].get<std::string>();
  if (rank == 0 || rank >= o.world)
    return fmt::format("rank {} is not one of the joining ranks 1..{}", rank, o.world - 1);
  if (name != config::launched_node_name(rank))
    return fmt::format("rank {} is node '{}', not '{}'", rank, config::launched_node_name(rank), name);
  if (o.curve.enabled && key_name != name)
    return fmt::format("its CURVE key is listed for node '{}', so it may not announce itself as '{}'", key_name, name);
  try {
    const auto e = config::parse_endpoint(a["endpoint"].get<std::string>());
    if (e.kind != config::transport::tcp || e.ephemeral())
      return fmt::format("endpoint '{}' is not tcp://ADDRESS:PORT", a["endpoint"].get<std::string>());
  } catch (const error& e) {
    return fmt::format("endpoint '{}': {}", a["endpoint"].get<std::string>(), e.what());
  }
  return std::nullopt;
}

std::string names_of(const std::vector<std::size_t>& ranks) {
  std::string out;
  for (auto r : ranks)
    out += fmt::format("{}{} ('{}')", out.empty() ? "" : ", ", r, config::launched_node_name(r));
  return out;
}

} // namespace

std::string resolve_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr)
    throw error(fmt::format("host '{}' does not resolve: {}", host, gai_strerror(rc)));
  std::string out;
  for (addrinfo* p = res; p != nullptr && out.empty(); p = p->ai_next)
    if (p->ai_family == AF_INET) {
      char buf[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr, buf, sizeof buf);
      out = buf;
    }
  if (out.empty()) {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr, buf, sizeof buf);
    out = buf;
  }
  ::freeaddrinfo(res);
  return out;
}

std::string local_address_toward(const std::string& address) {
  const auto e = config::parse_endpoint(address);
  const std::string ip = resolve_host(e.host);
  if (ip.rfind("127.", 0) == 0 || ip == "::1")
    return "127.0.0.1";
  TROUPE_ENFORCE(ip.find(':') == std::string::npos, "rendezvous host '{}' resolves to IPv6 {}; use an IPv4 address",
                 e.host, ip);
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  TROUPE_ENFORCE(fd >= 0, "socket(): {}", std::strerror(errno));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(e.port);
  ::inet_pton(AF_INET, ip.c_str(), &to.sin_addr);
  sockaddr_in me{};
  socklen_t len = sizeof me;
  // A UDP connect sends nothing; it only asks the kernel which local address routes there.
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok)
    throw error(fmt::format("no route from this host to the rendezvous {} ({}): {}; set cluster.launch.interface",
                            address, ip, std::strerror(err)));
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &me.sin_addr, buf, sizeof buf);
  return buf;
}

reserved_port::reserved_port(const std::string& ip) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  TROUPE_ENFORCE(fd_ >= 0, "socket(): {}", std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) {
    release();
    throw error(fmt::format("cluster.launch.interface '{}' is not an IPv4 address", ip));
  }
  const int one = 1;
  (void)::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); // as ZeroMQ's bind sets it
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  const int err = errno;
  if (!ok) {
    release();
    throw error(fmt::format("cannot listen on {}: {}; is it an address of this host?", ip, std::strerror(err)));
  }
  port_ = ntohs(a.sin_port);
}

reserved_port::~reserved_port() {
  release();
}

void reserved_port::release() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

namespace {

/// rank 0's ROUTER: CURVE server (admitting only the listed keys, each under its own name) when on,
/// listening on the rendezvous address (or on all addresses if this host does not have it).
zmq::socket_t listen_rendezvous(const rendezvous_options& o, net::context& zctx, const std::string& domain) {
  auto& log = log_of(o);
  zmq::socket_t router(zctx.native(), zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 2000); // the membership must leave before the socket closes
  router.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(max_frame));
  if (o.curve.enabled) {
    std::map<std::string, std::string> key_to_name;
    for (const auto& [name, key] : o.curve.peers)
      key_to_name[key] = name;
    zctx.zap_allow(domain, key_to_name, [&log, addr = o.address](const std::string& peer, const std::string& why) {
      log << fmt::format("troupe-node: rendezvous {}: refused a connection from {}: {}\n", addr, peer, why);
    });
    router.set(zmq::sockopt::curve_server, true);
    router.set(zmq::sockopt::curve_secretkey, o.curve.own.secret_key);
    router.set(zmq::sockopt::zap_domain, domain);
  }
  const auto e = config::parse_endpoint(o.address);
  const std::string ip = resolve_host(e.host);
  try {
    router.bind(fmt::format("tcp://{}:{}", ip.find(':') != std::string::npos ? "[" + ip + "]" : ip, e.port));
  } catch (const zmq::error_t& err) {
    if (err.num() != EADDRNOTAVAIL)
      throw error(fmt::format("rendezvous: cannot listen on {} ({}:{}): {}", o.address, ip, e.port, err.what()));
    // The name resolves to an address this host does not have (NAT, a service IP): listen on all.
    router.bind(fmt::format("tcp://0.0.0.0:{}", e.port));
  }
  return router;
}

/// One announcement as received: who sent it, the CURVE name its key is listed under, the JSON
/// (null if unparsable) and whether more than one frame came.
struct announcement {
  std::string routing_id, key_name;
  nlohmann::json body;
  bool extra_frames = false;
};

/// The next announcement, or nothing within 200 ms.
std::optional<announcement> receive_announcement(zmq::socket_t& router, bool curve, std::ostream& log) {
  zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 1, std::chrono::milliseconds(200));
  if ((items[0].revents & ZMQ_POLLIN) == 0)
    return std::nullopt;
  zmq::message_t id, body;
  if (!router.recv(id, zmq::recv_flags::dontwait))
    return std::nullopt;
  if (!id.more() || !router.recv(body, zmq::recv_flags::dontwait)) {
    log << "troupe-node: rendezvous: dropped a message without a body\n";
    return std::nullopt;
  }
  announcement a;
  a.routing_id = id.to_string();
  if (curve)
    if (const char* uid = body.gets("User-Id"))
      a.key_name = uid;
  while (body.more()) { // one frame per message; drain anything else
    zmq::message_t rest;
    (void)router.recv(rest, zmq::recv_flags::dontwait);
    a.extra_frames = true;
    if (!rest.more())
      break;
  }
  try {
    a.body = nlohmann::json::parse(body.to_string());
  } catch (const nlohmann::json::exception&) {
    a.body = nullptr;
  }
  return a;
}

/// Admits an announcement into `members` or says why not (also told to the sender). Returns
/// whether a new rank joined.
bool admit(const rendezvous_options& o, zmq::socket_t& router, const announcement& in,
           std::vector<std::optional<member>>& members, std::size_t& present) {
  auto& log = log_of(o);
  const auto& a = in.body;
  std::optional<std::string> why = in.extra_frames ? std::optional<std::string>("expected one JSON frame per message")
                                                   : check_announce(o, a, in.key_name);
  if (!why) {
    const auto& m = members[a["rank"].get<std::size_t>()];
    if (m && m->routing_id != in.routing_id)
      why = fmt::format("rank {} ('{}') is already taken by pid {} on {} listening at {}", a["rank"].get<std::size_t>(),
                        config::launched_node_name(a["rank"].get<std::size_t>()), m->pid, m->host, m->endpoint);
  }
  const std::string who = a.is_object() ? fmt::format("'{}' (pid {} on {})", a.value("name", std::string("?")),
                                                      a.value("pid", 0LL), a.value("host", std::string("?")))
                                        : std::string("a peer");
  if (why) {
    log << fmt::format("troupe-node: rendezvous: refused {}: {}\n", who, *why);
    send_json(router, in.routing_id, {{"type", "reject"}, {"why", *why}});
    return false;
  }
  const auto rank = a["rank"].get<std::size_t>();
  const bool joined = !members[rank];
  if (joined) {
    members[rank] =
        member{in.routing_id, a["endpoint"].get<std::string>(), a.value("host", std::string("?")), a.value("pid", 0LL)};
    ++present;
    log << fmt::format("troupe-node: rendezvous: {} joined as rank {} at {}; {} of {} present\n", who, rank,
                       members[rank]->endpoint, present, o.world);
  }
  send_json(router, in.routing_id, {{"type", "accepted"}, {"present", present}, {"world", o.world}});
  return joined;
}

/// The deadline passed: tells everyone present why, and says who is missing.
[[noreturn]] void give_up(const rendezvous_options& o, zmq::socket_t& router,
                          const std::vector<std::optional<member>>& members, std::size_t present) {
  std::vector<std::size_t> missing;
  for (std::size_t r = 0; r < o.world; ++r)
    if (!members[r])
      missing.push_back(r);
  const auto why = fmt::format("only {} of {} processes arrived within {} s; missing rank(s) {}", present, o.world,
                               o.timeout_s, names_of(missing));
  for (const auto& m : members)
    if (m && !m->routing_id.empty())
      send_json(router, m->routing_id, {{"type", "abort"}, {"why", why}});
  throw error(fmt::format("rendezvous at {}: {}", o.address, why));
}

} // namespace

namespace {

/// Why a join cannot take a place, or the rank it takes. Under CURVE the place is the one the key
/// is listed for; a name asked for must be a free place; else the lowest free place.
std::variant<std::string, std::size_t> place_for_join(const rendezvous_options& o, const nlohmann::json& a,
                                                      const std::string& key_name,
                                                      const std::vector<std::optional<member>>& members) {
  if (!a.is_object() || a.value("type", "") != "join")
    return std::string("expected a join message");
  for (const char* k : {"cluster", "name", "endpoint"})
    if (!a.contains(k) || !a[k].is_string())
      return fmt::format("the join has no '{}' text", k);
  if (a["cluster"].get<std::string>() != o.cluster_id)
    return fmt::format("this rendezvous serves cluster '{}', and the process joins cluster '{}': it belongs to another "
                       "job",
                       o.cluster_id, a["cluster"].get<std::string>());
  try {
    const auto e = config::parse_endpoint(a["endpoint"].get<std::string>());
    if (e.kind != config::transport::tcp || e.ephemeral())
      return fmt::format("endpoint '{}' is not tcp://ADDRESS:PORT", a["endpoint"].get<std::string>());
  } catch (const error& e) {
    return fmt::format("endpoint '{}': {}", a["endpoint"].get<std::string>(), e.what());
  }
  const std::size_t max_world = max_world_of(o);
  if (max_world == o.world)
    return fmt::format("this job is not elastic: it has exactly the {} processes its launcher started (set "
                       "cluster.launch.max_trainers to let trainers join)",
                       o.world);
  std::string wanted = a["name"].get<std::string>();
  if (o.curve.enabled) {
    if (!wanted.empty() && wanted != key_name)
      return fmt::format("its CURVE key is listed for node '{}', so it may not join as '{}'", key_name, wanted);
    wanted = key_name;
  }
  std::vector<std::string> free;
  for (std::size_t r = o.world; r < max_world; ++r)
    if (!members[r])
      free.push_back(config::launched_node_name(r));
  if (free.empty())
    return fmt::format("every place of this job is taken (cluster.launch.max_trainers is {})", max_world - 1);
  if (wanted.empty())
    for (std::size_t r = o.world; r < max_world; ++r)
      if (!members[r])
        return r;
  for (std::size_t r = o.world; r < max_world; ++r)
    if (config::launched_node_name(r) == wanted) {
      if (members[r])
        return fmt::format("place '{}' is already taken by pid {} on {}; free places: {}", wanted, members[r]->pid,
                           members[r]->host, fmt::join(free, ", "));
      return r;
    }
  return fmt::format("'{}' is not a place a trainer may join as; free places: {}", wanted, fmt::join(free, ", "));
}

} // namespace

struct rendezvous_server::impl {
  rendezvous_options o;
  net::context zctx;
  std::string domain;
  zmq::socket_t router;
  std::vector<std::optional<member>> members;
  std::size_t present = 1;
  std::vector<announcement> early_joins; ///< joins that came before the job ran
  std::atomic<bool> stopping{false};
  std::thread joins;

  impl(const rendezvous_options& opts, const rendezvous_self& self)
      : o(opts), zctx(o.zctx ? o.zctx : net::context::create()), domain("troupe-rendezvous:" + o.cluster_id),
        router(listen_rendezvous(o, zctx, domain)), members(max_world_of(o)) {
    members[0] = member{"", self.endpoint, host_name(), static_cast<long long>(::getpid())};
  }
  ~impl() {
    stopping = true;
    if (joins.joinable())
      joins.join();
    router.close();
    if (o.curve.enabled) // the ZAP domain goes with this rendezvous, however it ends
      zctx.zap_forget(domain);
  }

  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& m : members)
      out.push_back(m ? m->endpoint : std::string());
    return out;
  }

  /// One join: takes a free place and connects the running nodes to it, or says why not.
  void admit_join(const announcement& in, const join_handler& on_join) {
    auto& log = log_of(o);
    const auto& a = in.body;
    const std::string asked = a.is_object() ? a.value("name", std::string()) : std::string();
    const std::string who = a.is_object() ? fmt::format("a trainer process{} (pid {} on {})",
                                                        asked.empty() ? "" : " asking for '" + asked + "'",
                                                        a.value("pid", 0LL), a.value("host", std::string("?")))
                                          : std::string("a peer");
    auto placed = in.extra_frames
                      ? std::variant<std::string, std::size_t>(std::string("expected one JSON frame per message"))
                      : place_for_join(o, a, in.key_name, members);
    std::string why = std::holds_alternative<std::string>(placed) ? std::get<std::string>(placed) : std::string();
    if (why.empty()) {
      const std::size_t rank = std::get<std::size_t>(placed);
      const std::string name = config::launched_node_name(rank);
      const std::string endpoint = a["endpoint"].get<std::string>();
      why = on_join(name, endpoint);
      if (why.empty()) {
        members[rank] = member{in.routing_id, endpoint, a.value("host", std::string("?")), a.value("pid", 0LL)};
        ++present;
        log << fmt::format("troupe-node: rendezvous: {} joined the running job as '{}' (rank {}) at {}; {} of at most "
                           "{} processes\n",
                           who, name, rank, endpoint, present, members.size());
        send_json(router, in.routing_id, {{"type", "membership"}, {"rank", rank}, {"endpoints", endpoints()}});
        return;
      }
    }
    log << fmt::format("troupe-node: rendezvous: refused the join of {}: {}\n", who, why);
    send_json(router, in.routing_id, {{"type", "reject"}, {"why", why}});
  }
};

rendezvous_server::rendezvous_server(const rendezvous_options& o, const rendezvous_self& self)
    : p_(std::make_unique<impl>(o, self)) {
  TROUPE_ENFORCE(o.world >= 2, "a rendezvous needs at least 2 processes");
}

rendezvous_server::~rendezvous_server() = default;

std::vector<std::string> rendezvous_server::gather() {
  auto& o = p_->o;
  auto& log = log_of(o);
  log << fmt::format(
      "troupe-node: rendezvous: serving cluster '{}' at {}; waiting for {} more process(es) "
      "(up to {} s){}\n",
      o.cluster_id, o.address, o.world - 1, o.timeout_s,
      max_world_of(o) > o.world
          ? fmt::format("; up to {} more trainer process(es) may join while it runs", max_world_of(o) - o.world)
          : std::string());
  const auto deadline = deadline_of(o.timeout_s);
  while (p_->present < o.world) {
    if (clock::now() > deadline)
      give_up(o, p_->router, p_->members, p_->present);
    auto in = receive_announcement(p_->router, o.curve.enabled, log);
    if (!in)
      continue;
    if (in->body.is_object() && in->body.value("type", "") == "join")
      p_->early_joins.push_back(std::move(*in)); // answered once the job runs
    else
      admit(o, p_->router, *in, p_->members, p_->present);
  }
  const auto endpoints = p_->endpoints();
  for (const auto& m : p_->members)
    if (m && !m->routing_id.empty())
      send_json(p_->router, m->routing_id, {{"type", "membership"}, {"endpoints", endpoints}});
  log << fmt::format("troupe-node: rendezvous: all {} processes present; membership sent\n", o.world);
  return endpoints;
}

void rendezvous_server::serve_joins(join_handler on_join, std::function<bool()> ready) {
  TROUPE_ENFORCE(!p_->joins.joinable(), "serve_joins called twice");
  p_->joins = std::thread([p = p_.get(), on_join = std::move(on_join), ready = std::move(ready)] {
    auto& log = log_of(p->o);
    while (!p->stopping && !ready())
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const auto& in : std::exchange(p->early_joins, {}))
      p->admit_join(in, on_join);
    while (!p->stopping) {
      auto in = receive_announcement(p->router, p->o.curve.enabled, log);
      if (!in)
        continue;
      if (in->body.is_object() && in->body.value("type", "") == "join") {
        p->admit_join(*in, on_join);
      } else { // a launched rank announcing late: refused as taken or as another job, with the reason
        std::size_t ignored = p->present;
        admit(p->o, p->router, *in, p->members, ignored);
      }
    }
  });
}

void rendezvous_server::stop() {
  p_->stopping = true;
  if (p_->joins.joinable())
    p_->joins.join();
}

std::vector<std::string> serve_rendezvous(const rendezvous_options& o, const rendezvous_self& self) {
  rendezvous_server server(o, self);
  return server.gather();
}

namespace {

/// A process's DEALER toward rank 0 (CURVE client with agg's listed key when on), and a monitor
/// that reports a refused handshake (ZeroMQ would otherwise retry silently until the timeout).
struct rendezvous_link {
  zmq::socket_t dealer, monitor;

  rendezvous_link(const rendezvous_options& o, net::context& zctx)
      : dealer(zctx.native(), zmq::socket_type::dealer), monitor(zctx.native(), zmq::socket_type::pair) {
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(max_frame));
    if (o.curve.enabled) {
      const auto server = o.curve.peers.find(config::launched_node_name(0));
      TROUPE_ENFORCE(server != o.curve.peers.end(), "CURVE is on but no public key is listed for node 'agg'");
      dealer.set(zmq::sockopt::curve_serverkey, server->second);
      dealer.set(zmq::sockopt::curve_publickey, o.curve.own.public_key);
      dealer.set(zmq::sockopt::curve_secretkey, o.curve.own.secret_key);
    }
    static std::atomic<int> monitors{0};
    const auto mon_ep = fmt::format("inproc://troupe-rendezvous-monitor-{}-{}", ::getpid(), monitors++);
    TROUPE_ENFORCE(zmq_socket_monitor(dealer.handle(), mon_ep.c_str(),
                                      ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0,
                   "zmq_socket_monitor failed: {}", zmq_strerror(zmq_errno()));
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(mon_ep);
    dealer.connect(o.address);
  }
  ~rendezvous_link() { (void)zmq_socket_monitor(dealer.handle(), nullptr, 0); }
  rendezvous_link(const rendezvous_link&) = delete;
  rendezvous_link& operator=(const rendezvous_link&) = delete;
};

/// Why the CURVE handshake failed, if the monitor reported it.
std::optional<std::string> handshake_failure(zmq::socket_t& monitor, const rendezvous_self& self) {
  zmq::message_t event, addr;
  if (!monitor.recv(event, zmq::recv_flags::dontwait) || event.size() < 6)
    return std::nullopt;
  std::uint16_t what = 0;
  std::uint32_t value = 0;
  std::memcpy(&what, event.data(), 2);
  std::memcpy(&value, static_cast<const char*>(event.data()) + 2, 4);
  if (event.more())
    (void)monitor.recv(addr, zmq::recv_flags::dontwait);
  if (what == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
    return fmt::format("refused this process's CURVE key (ZAP status {}): the rendezvous admits only the keys "
                       "listed under cluster.launch.public_keys, each for its own node ('{}' here)",
                       value, self.name);
  return fmt::format("the CURVE handshake failed (event {}, value {}): is CURVE on at both ends, with agg's public "
                     "key?",
                     what, value);
}

/// The endpoints of a membership message, checked: one per rank, this process's where it is.
std::vector<std::string> membership_of(const nlohmann::json& r, const rendezvous_options& o,
                                       const rendezvous_self& self) {
  const auto fail = [&](const std::string& why) { return error(fmt::format("rendezvous at {}: {}", o.address, why)); };
  if (!r.contains("endpoints") || !r["endpoints"].is_array() || r["endpoints"].size() != max_world_of(o))
    throw fail(fmt::format("sent a membership that does not list {} endpoints", max_world_of(o)));
  std::vector<std::string> endpoints;
  for (const auto& ep : r["endpoints"]) {
    if (!ep.is_string())
      throw fail("sent a membership with an endpoint that is not text");
    endpoints.push_back(ep.get<std::string>());
  }
  if (endpoints[self.rank] != self.endpoint)
    throw fail(fmt::format("sent a membership that puts rank {} at {}, not here ({})", self.rank, endpoints[self.rank],
                           self.endpoint));
  return endpoints;
}

/// The next answer of rank 0 as JSON, or nothing once `deadline` passed. Throws troupe::error when
/// the CURVE handshake was refused or the answer is not JSON.
std::optional<nlohmann::json> next_answer(rendezvous_link& link, const rendezvous_options& o,
                                          const rendezvous_self& self, clock::time_point deadline) {
  const auto fail = [&](const std::string& why) { return error(fmt::format("rendezvous at {}: {}", o.address, why)); };
  while (clock::now() < deadline) {
    zmq::pollitem_t items[] = {{link.dealer.handle(), 0, ZMQ_POLLIN, 0}, {link.monitor.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(200));
    if ((items[1].revents & ZMQ_POLLIN) != 0)
      if (auto why = handshake_failure(link.monitor, self))
        throw fail(*why);
    zmq::message_t body;
    if ((items[0].revents & ZMQ_POLLIN) == 0 || !link.dealer.recv(body, zmq::recv_flags::dontwait))
      continue;
    try {
      return nlohmann::json::parse(body.to_string());
    } catch (const nlohmann::json::exception&) {
      throw fail("answered with something that is not JSON; is that address a Troupe rendezvous?");
    }
  }
  return std::nullopt;
}

} // namespace

std::vector<std::string> join_rendezvous(const rendezvous_options& o, const rendezvous_self& self) {
  auto& log = log_of(o);
  net::context zctx = o.zctx ? o.zctx : net::context::create();
  rendezvous_link link(o, zctx);
  const nlohmann::json announce = {{"type", "announce"},  {"cluster", o.cluster_id},
                                   {"world", o.world},    {"rank", self.rank},
                                   {"name", self.name},   {"endpoint", self.endpoint},
                                   {"host", host_name()}, {"pid", static_cast<long long>(::getpid())}};
  send_json(link.dealer, "", announce);
  log << fmt::format("troupe-node: rendezvous: announced '{}' (rank {} of {}) at {} to {}\n", self.name, self.rank,
                     o.world, self.endpoint, o.address);
  const auto deadline = deadline_of(o.timeout_s);
  bool accepted = false;
  const auto fail = [&](const std::string& why) { return error(fmt::format("rendezvous at {}: {}", o.address, why)); };
  while (auto answer = next_answer(link, o, self, deadline)) {
    const nlohmann::json& r = *answer;
    const std::string type = r.is_object() ? r.value("type", "") : "";
    if (type == "reject")
      throw fail(fmt::format("refused '{}' (rank {}): {}", self.name, self.rank, r.value("why", std::string("?"))));
    if (type == "abort")
      throw fail(fmt::format("gave up: {}", r.value("why", std::string("?"))));
    if (type == "membership")
      return membership_of(r, o, self);
    if (type == "accepted" && !accepted) {
      accepted = true;
      log << fmt::format("troupe-node: rendezvous: accepted; {} of {} present\n", r.value("present", 0),
                         r.value("world", 0));
    }
  }
  throw fail(fmt::format("no membership within {} s ({}); is rank 0 running, and is every rank of the {} started?",
                         o.timeout_s, accepted ? "announced and accepted, others missing" : "never answered", o.world));
}

std::pair<std::size_t, std::vector<std::string>> join_running(const rendezvous_options& o, const std::string& name,
                                                              const std::string& endpoint) {
  auto& log = log_of(o);
  net::context zctx = o.zctx ? o.zctx : net::context::create();
  rendezvous_link link(o, zctx);
  const rendezvous_self me{0, name.empty() ? std::string("(any free place)") : name, endpoint};
  send_json(link.dealer, "",
            {{"type", "join"},
             {"cluster", o.cluster_id},
             {"name", name},
             {"endpoint", endpoint},
             {"host", host_name()},
             {"pid", static_cast<long long>(::getpid())}});
  log << fmt::format("troupe-node: rendezvous: asked to join the running job{} at {}, listening at {}\n",
                     name.empty() ? std::string() : " as '" + name + "'", o.address, endpoint);
  const auto fail = [&](const std::string& why) { return error(fmt::format("rendezvous at {}: {}", o.address, why)); };
  const auto deadline = deadline_of(o.timeout_s);
  while (auto answer = next_answer(link, o, me, deadline)) {
    const nlohmann::json& r = *answer;
    const std::string type = r.is_object() ? r.value("type", "") : "";
    if (type == "reject")
      throw fail(fmt::format("refused to let this process join: {}", r.value("why", std::string("?"))));
    if (type == "membership") {
      if (!r.contains("rank") || !r["rank"].is_number_unsigned())
        throw fail("sent a membership without this process's rank");
      const auto rank = r["rank"].get<std::size_t>();
      if (rank == 0 || rank >= max_world_of(o))
        throw fail(fmt::format("gave this process rank {}, outside 1..{}", rank, max_world_of(o) - 1));
      rendezvous_self self{rank, config::launched_node_name(rank), endpoint};
      return {rank, membership_of(r, o, self)};
    }
  }
  throw fail(
      fmt::format("no answer within {} s; is the job running, with cluster.launch.max_trainers set?", o.timeout_s));
}

} // namespace troupe::runtime
