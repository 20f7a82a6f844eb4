#pragma once
/// A node's router: hands every decoded message to the local actors its header names
/// (net::header::to), without parsing its meta. Messages for an actor that is not spawned yet
/// wait (nodes may start in any order), within bounds a peer cannot push past:
///   - at most `max_parked_per_name` messages per name and `max_parked_names` distinct names, and
///     both counted per sending node (the name the transport authenticated), so one peer cannot
///     fill the node's memory or crowd out another's messages;
///   - a name that is not one of this node's actors (per the topology) is refused at once: it
///     can only be a mistake or an attack, and parking it would be memory for nothing.
/// Refusals are counted by reason and logged (the first 20, then every 1000th).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "net/message.hpp"

namespace troupe::runtime {

struct router_limits {
  std::size_t max_parked_per_name = 4096; ///< per sending node and name
  std::size_t max_parked_names = 64;      ///< distinct names parked per sending node
  std::size_t max_recipients = 64;        ///< names one message may list
};

struct router_counters {
  std::uint64_t delivered = 0;
  std::uint64_t parked = 0;
  std::uint64_t refused_unknown_actor = 0; ///< a name this node does not host
  std::uint64_t refused_full = 0;          ///< parking bounds reached
  std::uint64_t refused_no_recipient = 0;
};

class router {
public:
  /// `hosted`: the actor names the topology places on this node (messages to any other name are refused).
  router(std::string node, std::set<std::string> hosted, router_limits limits = {});

  /// Delivers m to each local actor its header names (they share one copy).
  void route(net::message&& m);
  /// Registers (or replaces, after a restart) a local actor and hands it what was parked for it.
  void add(const std::string& name, caf::actor a);
  /// Forgets every actor and parked message (the node is stopping).
  void clear();
  router_counters counters() const;
  /// Messages parked now, over all senders and names.
  std::size_t parked() const;

private:
  void refuse(const net::message& m, const std::string& to, const char* why, std::uint64_t router_counters::*count);

  std::string node_;
  std::set<std::string> hosted_;
  router_limits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, caf::actor> actors_;
  // sender node -> name -> parked messages (in arrival order per name).
  std::map<std::string, std::map<std::string, std::vector<std::shared_ptr<const net::message>>>> parked_;
  router_counters counters_;
  std::uint64_t logged_ = 0;
};

} // namespace troupe::runtime
