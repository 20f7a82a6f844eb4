#pragma once
/// The rendezvous of a launched job (config/launch.hpp): rank 0 listens on one known address, every
/// other process announces `{cluster, rank, name, endpoint}` there and, once all have, receives the
/// membership (every rank's endpoint).
///
/// Wire: a ROUTER at the rendezvous address, a DEALER per joining process, one JSON frame per
/// message (at most 64 KiB; anything else is dropped and logged). Messages:
///   join -> server  {"type":"announce","cluster":ID,"world":W,"rank":R,"name":N,"endpoint":E,"host":H,"pid":P}
///   server -> join  {"type":"accepted","present":K,"world":W}   then   {"type":"membership","endpoints":[E0..]}
///                   or {"type":"reject","why":...} / {"type":"abort","why":...}
/// Refused, with the reason printed by the server and thrown by the joining process: another
/// cluster id, another world size, a name that does not belong to the rank, a rank already taken
/// by another process. Under CURVE the server admits only the listed keys, and a key may announce
/// only the name it is listed under; a refused key is reported on both sides too.
/// Both sides wait at most `timeout_s`, and the server names the missing ranks when it gives up.
///
/// Elastic jobs (`max_world` > `world`, from cluster.launch.max_trainers): ranks world..max_world-1
/// are free places. The membership lists "" for them, and once the job runs the server keeps
/// serving (rendezvous_server::serve_joins): a trainer process started with `--role trainer`
///   join -> server  {"type":"join","cluster":ID,"name":N or "","endpoint":E,"host":H,"pid":P}
///   server -> join  {"type":"membership","rank":R,"endpoints":[E0..]}  or a reject
/// takes the free place it names (under CURVE: the one its key is listed for), else the lowest
/// free one; the running nodes connect to it before it is answered. A place once taken stays
/// taken (a trainer that leaves is handled by on_trainer_loss: shrink; it cannot come back).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "net/context.hpp"
#include "net/curve.hpp"

namespace troupe::runtime {

struct rendezvous_options {
  std::string cluster_id;
  std::string address;       ///< tcp://HOST:PORT: where the server listens / the others connect
  std::size_t world = 0;     ///< processes the launcher started
  std::size_t max_world = 0; ///< elastic: processes the job may have (world + free places); 0: world
  double timeout_s = 300;
  net::context zctx; ///< empty: a private one
  /// CURVE: `own` is this process's key pair; `peers` maps node name -> public key (the server's
  /// key is peers["agg"]).
  net::curve_options curve;
  std::ostream* log = nullptr; ///< progress and refusals; null: std::cerr
};

/// This process's entry.
struct rendezvous_self {
  std::size_t rank = 0;
  std::string name;
  std::string endpoint; ///< where this process will listen
};

/// Rank 0's side of the rendezvous.
class rendezvous_server {
public:
  /// Binds `o.address` (throws troupe::error if it cannot).
  rendezvous_server(const rendezvous_options& o, const rendezvous_self& self);
  ~rendezvous_server();
  rendezvous_server(const rendezvous_server&) = delete;
  rendezvous_server& operator=(const rendezvous_server&) = delete;

  /// Admits the other world - 1 processes, sends each the membership and returns it (endpoints in
  /// rank order, this process's first, "" for free places). Throws troupe::error naming the
  /// missing ranks if they have not all arrived within o.timeout_s.
  std::vector<std::string> gather();

  /// Called for a trainer process taking free place `name` (listening at `endpoint`) before it is
  /// answered; returns why it cannot join, or "" when the running nodes are connected to it.
  using join_handler = std::function<std::string(const std::string& name, const std::string& endpoint)>;
  /// Elastic: after gather(), serves joins on a thread of its own until stop() (or destruction);
  /// joins that arrive before `ready()` is true wait (the nodes are not connected yet).
  void serve_joins(join_handler on_join, std::function<bool()> ready);
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> p_;
};

/// Rank 0 of a job that is not elastic: rendezvous_server(o, self).gather().
std::vector<std::string> serve_rendezvous(const rendezvous_options& o, const rendezvous_self& self);

/// Ranks >= 1: announces `self` at `o.address` and waits for the membership. Throws troupe::error
/// saying why when refused, and when nothing arrived within o.timeout_s.
std::vector<std::string> join_rendezvous(const rendezvous_options& o, const rendezvous_self& self);

/// A trainer process joining a running elastic job (`--role trainer` on a launched topology):
/// announces `endpoint` (and `name`, the free place it asks for, or "" for any) and returns its
/// rank and the membership. Throws troupe::error saying why when refused or nothing came within
/// o.timeout_s.
std::pair<std::size_t, std::vector<std::string>> join_running(const rendezvous_options& o, const std::string& name,
                                                              const std::string& endpoint);

/// The address of this host toward `address` (tcp://HOST:PORT): the local IP the kernel would send
/// from; "127.0.0.1" when HOST is loopback. Throws troupe::error naming HOST if it does not resolve.
std::string local_address_toward(const std::string& address);

/// A free tcp port on an address of this host, held (bound, not listening) so that no other
/// process takes it while the rendezvous runs; release() just before the van binds it.
class reserved_port {
public:
  /// Binds port 0 on `ip`; throws troupe::error if `ip` is not an IPv4 address of this host.
  explicit reserved_port(const std::string& ip);
  ~reserved_port();
  reserved_port(const reserved_port&) = delete;
  reserved_port& operator=(const reserved_port&) = delete;
  std::uint16_t port() const { return port_; }
  void release();

private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

/// The IP address `host` resolves to (the first IPv4 one, else the first).
std::string resolve_host(const std::string& host);

} // namespace troupe::runtime
