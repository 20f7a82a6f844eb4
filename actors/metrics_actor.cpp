#include "actors/metrics_actor.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <caf/all.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/messages.hpp"
#include "common/error.hpp"
#include "observe/prometheus.hpp"
#include "observe/record_feed.hpp"

namespace troupe::actors {

namespace {

struct metrics_state {
  std::unique_ptr<std::ofstream> file;
  metrics_options o;
};

caf::behavior metrics_actor(caf::stateful_actor<metrics_state>* self, metrics_options o) {
  std::filesystem::create_directories(o.dir);
  const auto path = std::filesystem::path(o.dir) / (o.node + ".jsonl");
  self->state.file = std::make_unique<std::ofstream>(path, std::ios::app);
  if (!*self->state.file)
    throw error(fmt::format("{}: cannot open the metrics log for writing", path.string()));
  self->state.o = std::move(o);
  return {
      [=](record_atom, const std::string& json) {
        *self->state.file << json << '\n';
        self->state.file->flush();
        if (self->state.o.registry)  // an unparsable record feeds nothing
          observe::feed_record(*self->state.o.registry, nlohmann::json::parse(json, nullptr, false));
      },
      [=](line_atom, const std::string& line) {
        if (!self->state.o.console)
          return;
        std::ostream& out = self->state.o.out ? *self->state.o.out : std::cout;
        out << line << '\n';
        out.flush();
      },
  };
}

} // namespace

caf::actor spawn_metrics(caf::actor_system& sys, metrics_options o) {
  return sys.spawn(metrics_actor, std::move(o));
}

nlohmann::json make_record(const std::string& node, const std::string& actor, const std::string& role,
                           std::uint64_t step) {
  const double ts =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return {{"ts", ts}, {"node", node}, {"actor", actor}, {"role", role}, {"step", step}};
}

} // namespace troupe::actors
