#pragma once
/// The metrics actor: one per node; appends every record an actor reports to
/// <metrics dir>/<node>.jsonl (one JSON object per line, flushed per record so a crash loses
/// nothing already reported) and prints console lines when the node is the one that talks.

#include <memory>
#include <ostream>
#include <string>

#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

namespace troupe::observe {
class registry;
} // namespace troupe::observe

namespace troupe::actors {

struct metrics_options {
  std::string dir;         ///< created if missing
  std::string node;
  bool console = true;     ///< print line_atom messages
  std::ostream* out = nullptr;  ///< console stream (std::cout when null)
  std::shared_ptr<observe::registry> registry;  ///< when set, every record also feeds Prometheus metrics
};

/// Spawns the metrics actor. Messages: (record_atom, std::string json) and (line_atom, std::string).
caf::actor spawn_metrics(caf::actor_system& sys, metrics_options o);

/// A record with the common fields: ts (seconds since the epoch), node, actor, role, step.
nlohmann::json make_record(const std::string& node, const std::string& actor, const std::string& role,
                           std::uint64_t step);

} // namespace troupe::actors
