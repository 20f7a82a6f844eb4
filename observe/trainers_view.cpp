#include "observe/trainers_view.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "observe/text_table.hpp"

namespace troupe::observe {

namespace {

std::string figure(double v, const char* format) {
  return std::isnan(v) ? "-" : fmt::format(format, v);
}

/// A fraction of wall time as "12%"; "-" when the record does not carry it.
std::string percent(double v) {
  return std::isnan(v) ? "-" : fmt::format("{:.0f}%", 100 * v);
}

} // namespace

std::string render_trainers(const std::vector<record>& records, const run_summary& summary) {
  std::map<std::string, const record*> latest; // by actor: trainer names are global across nodes
  for (const auto& r : records)
    if (r.role == "trainer" && !r.fields.contains("event")) {
      auto& slot = latest[r.actor];
      if (slot == nullptr || r.ts >= slot->ts)
        slot = &r;
    }
  if (latest.empty())
    return "";
  std::vector<const record*> trainers;
  for (const auto& [actor, r] : latest)
    trainers.push_back(r);
  std::sort(trainers.begin(), trainers.end(),
            [](const record* a, const record* b) { return natural_less(a->actor, b->actor); });

  // LATE (job.backup_trainers): gradients of the trainer dropped because its round had closed.
  bool late_known = false;
  for (const record* r : trainers)
    late_known = late_known || late_dropped_of(summary, r->actor).has_value();
  std::vector<std::vector<std::string>> rows;
  for (const record* r : trainers) {
    const auto rank = trainer_rank(r->actor);
    const double clock = r->number("clock");
    const auto* lag = clock_lag_of(summary, r->actor);
    rows.push_back({r->node, rank ? std::to_string(*rank) : r->actor,
                    std::isnan(clock) ? std::to_string(r->step) : fmt::format("{:.0f}", clock),
                    figure(r->number("share"), "{:.1f}"), figure(r->number("images_per_s"), "{:.0f}"),
                    percent(r->number("wait_params_frac")), percent(r->number("wait_batch_frac")),
                    lag != nullptr ? lag->dump() : "-"});
    if (late_known) {
      const auto late = late_dropped_of(summary, r->actor);
      rows.back().push_back(late ? fmt::format("{:.0f}", *late) : "-");
    }
  }
  std::vector<std::string> header = {"NODE", "RANK", "CLOCK", "SHARE", "IMAGES/S", "WAIT PARAMS", "WAIT BATCH", "LAG"};
  std::vector<bool> right = {false, true, true, true, true, true, true, true};
  if (late_known) {
    header.push_back("LATE");
    right.push_back(true);
  }
  return std::string("trainers, each one's latest record (SHARE: samples per clock it was given; WAIT: % of its wall "
                     "time") +
         (late_known ? "; LATE: its gradients dropped because their round had closed" : "") + "):\n" +
         text_table(header, right, rows, std::vector<const char*>(rows.size(), nullptr));
}

} // namespace troupe::observe
