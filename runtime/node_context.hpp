#pragma once
/// What every actor of a node shares: the topology, the model, where everyone lives, the van
/// that carries their messages and the node's metrics actor.

#include <memory>
#include <string>

#include <caf/actor.hpp>

#include "actors/placement.hpp"
#include "config/model_spec.hpp"
#include "config/topology.hpp"
#include "net/van.hpp"

namespace troupe::actors {

struct node_context {
  std::string node;                 ///< this node's name
  config::topology topo;
  config::model_spec model;
  placement where;
  std::shared_ptr<net::van> van;
  caf::actor metrics;

  /// Sends m to the node hosting the destination; logs and swallows a failure (the peer may be gone).
  bool send(const std::string& peer_node, net::message m) const;
  /// Reports a JSON record to the metrics actor.
  void record(const std::string& json) const;
  /// Prints a line on this node's console (through the metrics actor).
  void line(const std::string& text) const;
};

} // namespace troupe::actors
