#include "ps/placement.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "ps/protocol.hpp"
#include "ps/shard_plan.hpp"

namespace troupe::ps {

std::vector<std::size_t> placement::ranks_on(const std::string& node) const {
  std::vector<std::size_t> r;
  for (std::size_t i = 0; i < trainer_nodes.size(); ++i)
    if (trainer_nodes[i] == node)
      r.push_back(i);
  return r;
}

std::vector<std::size_t> placement::shards_on(const std::string& node) const {
  std::vector<std::size_t> r;
  for (std::size_t s = 0; s < shard_nodes.size(); ++s)
    if (shard_nodes[s] == node)
      r.push_back(s);
  return r;
}

bool placement::hosts_shard(const std::string& node) const {
  return std::find(shard_nodes.begin(), shard_nodes.end(), node) != shard_nodes.end();
}

std::vector<std::string> placement::shard_node_names() const {
  std::vector<std::string> out;
  for (const auto& n : shard_nodes)
    if (std::find(out.begin(), out.end(), n) == out.end())
      out.push_back(n);
  return out;
}

std::string placement::aggregator_on(const std::string& node) const {
  if (shards() <= 1)
    return fmt::format("the aggregator on node '{}'", node);
  const auto mine = shards_on(node);
  return fmt::format("aggregator shard{} {} on node '{}'", mine.size() == 1 ? "" : "s", fmt::join(mine, ", "), node);
}

std::set<std::string> placement::actors_on(const std::string& node) const {
  std::set<std::string> names;
  for (std::size_t s : shards_on(node))
    names.insert(aggregator_shard_name(s));
  if (node == loader_node)
    names.insert(loader_name);
  for (std::size_t r : ranks_on(node))
    names.insert(trainer_name(r));
  return names;
}

placement place(const config::topology& t) {
  placement p;
  for (const auto& n : t.cluster.nodes) {
    auto has = [&](config::role r) { return std::find(n.roles.begin(), n.roles.end(), r) != n.roles.end(); };
    if (has(config::role::aggregator)) {
      if (p.aggregator_node.empty())
        p.aggregator_node = n.name;
      for (std::size_t k = 0; k < std::max<std::size_t>(n.shards, 1); ++k)
        p.shard_nodes.push_back(n.name);
    }
    if (has(config::role::loader))
      p.loader_node = n.name;
    if (has(config::role::trainer))
      for (std::size_t k = 0; k < n.trainers; ++k) {
        p.trainer_nodes.push_back(n.name);
        p.trainer_threads.push_back(std::max<std::size_t>(n.threads, 1));
      }
  }
  TROUPE_ENFORCE(!p.aggregator_node.empty() && !p.loader_node.empty() && p.trainers() > 0,
                 "{}: the topology needs an aggregator, a loader and at least one trainer", t.source);
  return p;
}

} // namespace troupe::ps
