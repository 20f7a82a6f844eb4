#pragma once
/// Where every actor of a topology lives: trainer ranks are numbered in node order. Also who may
/// speak for whom: a node may only send as the actors the topology places on it.

#include <set>
#include <string>
#include <vector>

#include "config/topology.hpp"

namespace troupe::ps {

struct placement {
  std::string aggregator_node;          ///< the node of aggregator shard 0 (the job's coordinator)
  std::vector<std::string> shard_nodes; ///< node of each aggregator shard (ps/shard_plan.hpp)
  std::string loader_node;
  std::vector<std::string> trainer_nodes;   ///< node of each trainer rank
  std::vector<std::size_t> trainer_threads; ///< compute threads of each trainer rank

  std::size_t trainers() const { return trainer_nodes.size(); }
  std::size_t shards() const { return shard_nodes.size(); }
  /// Shards on `node`.
  std::vector<std::size_t> shards_on(const std::string& node) const;
  /// Whether `node` hosts an aggregator shard: only such a node may send parameters and welcomes.
  bool hosts_shard(const std::string& node) const;
  /// The nodes that host aggregator shards, each once, in shard order.
  std::vector<std::string> shard_node_names() const;
  /// How messages name the aggregator part on `node`: "the aggregator on node 'agg'" when not
  /// sharded, else e.g. "aggregator shard 1 on node 'agg1'" or "aggregator shards 1, 2 on node 'b'".
  std::string aggregator_on(const std::string& node) const;
  /// Ranks of the trainers on `node`.
  std::vector<std::size_t> ranks_on(const std::string& node) const;
  /// The names of the actors on `node` (aggregator, aggregator-s, loader, trainer-r), the only names its router
  /// accepts.
  std::set<std::string> actors_on(const std::string& node) const;
  /// Whether `node` hosts trainer `rank`: only that node may hello, push or ask for batches as it.
  bool hosts_trainer(const std::string& node, std::size_t rank) const {
    return rank < trainer_nodes.size() && trainer_nodes[rank] == node;
  }
};

placement place(const config::topology& t);

} // namespace troupe::ps
