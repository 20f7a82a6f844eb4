#pragma once
/// The metrics actor: one per node; appends every record an actor reports to
/// <metrics dir>/<node>.jsonl (one JSON object per line, flushed per record so a crash loses
/// nothing already reported) and prints console lines when the node is the one that talks.
/// Size-based rotation: past `rotate_bytes` the log is renamed <node>.<k>.jsonl (k = 1, 2, ...,
/// oldest first) and a new one started; readers take every *.jsonl in the directory.

#include <memory>
#include <ostream>
#include <string>

#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

namespace troupe::observe {
class registry;
} // namespace troupe::observe

namespace troupe::runtime {

struct metrics_options {
  std::string dir; ///< created if missing
  std::string node;
  bool console = true;                                   ///< print line_atom messages
  std::ostream* out = nullptr;                           ///< console stream (std::cout when null)
  std::shared_ptr<observe::registry> registry;           ///< when set, every record also feeds Prometheus metrics
  std::uint64_t rotate_bytes = std::uint64_t{256} << 20; ///< a log past this size moves to <node>.<k>.jsonl
};

/// Spawns the metrics actor. Messages: (record_atom, std::string json) and (line_atom, std::string).
caf::actor spawn_metrics(caf::actor_system& sys, metrics_options o);

/// A record with the common fields: ts (seconds since the epoch), node, actor, role, step.
nlohmann::json make_record(const std::string& node, const std::string& actor, const std::string& role,
                           std::uint64_t step);

} // namespace troupe::runtime
