#include "runtime/metrics_actor.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <caf/all.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "common/error.hpp"
#include "observe/prometheus.hpp"
#include "observe/record_feed.hpp"
#include "runtime/messages.hpp"

namespace troupe::runtime {

namespace {

struct metrics_state {
  std::unique_ptr<std::ofstream> file;
  std::filesystem::path path;
  std::uint64_t bytes = 0; ///< size of the current log
  metrics_options o;

  void open() {
    file = std::make_unique<std::ofstream>(path, std::ios::app);
    if (!*file)
      throw error(fmt::format("{}: cannot open the metrics log for writing", path.string()));
    bytes = std::filesystem::file_size(path);
  }

  /// Moves the full log aside as <node>.<k>.jsonl (the first free k) and starts a new one.
  void rotate() {
    file.reset();
    for (unsigned k = 1;; ++k) {
      const auto target = path.parent_path() / fmt::format("{}.{}.jsonl", o.node, k);
      if (!std::filesystem::exists(target)) {
        std::filesystem::rename(path, target);
        break;
      }
    }
    open();
  }
};

caf::behavior metrics_actor(caf::stateful_actor<metrics_state>* self, metrics_options o) {
  std::filesystem::create_directories(o.dir);
  self->state.path = std::filesystem::path(o.dir) / (o.node + ".jsonl");
  self->state.o = std::move(o);
  self->state.open();
  return {
      [=](record_atom, const std::string& json) {
        auto& st = self->state;
        if (st.bytes > 0 && st.bytes + json.size() + 1 > st.o.rotate_bytes)
          st.rotate();
        *st.file << json << '\n';
        st.file->flush();
        st.bytes += json.size() + 1;
        if (self->state.o.registry) // an unparsable record feeds nothing
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
  const double ts = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return {{"ts", ts}, {"node", node}, {"actor", actor}, {"role", role}, {"step", step}};
}

} // namespace troupe::runtime
