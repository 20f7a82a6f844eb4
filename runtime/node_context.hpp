#pragma once
/// What every actor of a node shares: the topology, the model, where everyone lives, the van
/// that carries their messages, the node's metrics actor, the job's fingerprint, and the
/// progress counters its supervisor reads.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "config/model_spec.hpp"
#include "config/topology.hpp"
#include "net/van.hpp"
#include "ps/placement.hpp"
#include "runtime/queue_gauges.hpp"

namespace troupe::runtime {

class router;

struct node_context {
  std::string node; ///< this node's name
  config::topology topo;
  config::model_spec model;
  ps::placement where;
  std::shared_ptr<net::van> van;
  caf::actor metrics;
  std::shared_ptr<const runtime::router> routes; ///< its counters go into the transport records
  /// Messages refused because their sender may not speak for the actor they claim .
  std::shared_ptr<std::atomic<std::uint64_t>> refused_unauthorized = std::make_shared<std::atomic<std::uint64_t>>(0);
  /// Each local actor's mailbox depth, set by the actor itself (runtime/queue_gauges.hpp).
  std::shared_ptr<queue_gauges> mailboxes = std::make_shared<queue_gauges>();
  /// Each local trainer's batches received ahead of use (the loader's prefetch, as the trainer holds it).
  std::shared_ptr<queue_gauges> prefetch = std::make_shared<queue_gauges>();
  std::string job_fingerprint; ///< wire form of config::job_fingerprint, sent at hello
  /// Clocks computed per trainer rank on this node (the supervisor's sign of progress).
  std::shared_ptr<std::vector<std::atomic<std::uint64_t>>> steps =
      std::make_shared<std::vector<std::atomic<std::uint64_t>>>(0);

  /// Sends m to the node hosting the destination; logs and swallows a failure (the peer may be gone).
  bool send(const std::string& peer_node, net::message m) const;
  /// Reports a JSON record to the metrics actor.
  void record(const std::string& json) const;
  /// Prints a line on this node's console (through the metrics actor).
  void line(const std::string& text) const;
  /// Trainer `rank` computed a clock.
  void progress(std::size_t rank) const {
    if (rank < steps->size())
      ++(*steps)[rank];
  }
  std::uint64_t steps_of(std::size_t rank) const { return rank < steps->size() ? (*steps)[rank].load() : 0; }
};

} // namespace troupe::runtime
