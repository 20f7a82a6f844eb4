#pragma once
/// Where every actor of a topology lives: trainer ranks are numbered in node order.

#include <string>
#include <vector>

#include "config/topology.hpp"

namespace troupe::actors {

struct placement {
  std::string aggregator_node;
  std::string loader_node;
  std::vector<std::string> trainer_nodes;     ///< node of each trainer rank
  std::vector<std::size_t> trainer_threads;   ///< compute threads of each trainer rank

  std::size_t trainers() const { return trainer_nodes.size(); }
  /// Ranks of the trainers on `node`.
  std::vector<std::size_t> ranks_on(const std::string& node) const;
};

placement place(const config::topology& t);

} // namespace troupe::actors
