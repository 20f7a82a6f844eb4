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

#include <cstddef>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "net/context.hpp"
#include "net/curve.hpp"

namespace troupe::runtime {

struct rendezvous_options {
  std::string cluster_id;
  std::string address; ///< tcp://HOST:PORT: where the server listens / the others connect
  std::size_t world = 0;
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

/// Rank 0: binds `o.address`, admits the other world - 1 processes, sends each the membership and
/// returns it (endpoints in rank order, this process's first). Throws troupe::error naming the
/// missing ranks if they have not all arrived within o.timeout_s.
std::vector<std::string> serve_rendezvous(const rendezvous_options& o, const rendezvous_self& self);

/// Ranks >= 1: announces `self` at `o.address` and waits for the membership. Throws troupe::error
/// saying why when refused, and when nothing arrived within o.timeout_s.
std::vector<std::string> join_rendezvous(const rendezvous_options& o, const rendezvous_self& self);

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
