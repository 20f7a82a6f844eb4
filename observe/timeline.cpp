#include "observe/timeline.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "common/atomic_file.hpp"
#include "common/error.hpp"

namespace troupe::observe {

namespace {

struct span {
  std::string name, node, actor, correlation;
  double start = 0, seconds = 0;
};

std::vector<span> spans_of(const read_result& records) {
  std::vector<span> out;
  for (const auto& r : records.records) {
    if (r.text("event") != "spans")
      continue;
    const auto it = r.fields.find("spans");
    if (it == r.fields.end() || !it->is_array())
      continue;
    for (const auto& s : *it) {
      // [name, start seconds, duration seconds, correlation]; malformed entries are skipped.
      if (!s.is_array() || s.size() != 4 || !s[0].is_string() || !s[1].is_number() || !s[2].is_number() ||
          !s[3].is_string())
        continue;
      out.push_back({s[0].get<std::string>(), r.node, r.actor, s[3].get<std::string>(), s[1].get<double>(),
                     std::max(0.0, s[2].get<double>())});
    }
  }
  return out;
}

} // namespace

nlohmann::json build_timeline(const read_result& records) {
  const auto spans = spans_of(records);
  double t0 = std::numeric_limits<double>::infinity();
  for (const auto& s : spans)
    t0 = std::min(t0, s.start);
  std::map<std::string, int> pids;
  std::map<std::pair<std::string, std::string>, int> tids;
  nlohmann::json events = nlohmann::json::array();
  auto pid_of = [&](const std::string& node) {
    auto [it, fresh] = pids.emplace(node, static_cast<int>(pids.size()) + 1);
    if (fresh)
      events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", it->second}, {"args", {{"name", node}}}});
    return it->second;
  };
  auto tid_of = [&](const std::string& node, const std::string& actor) {
    const int pid = pid_of(node);
    auto [it, fresh] = tids.emplace(std::make_pair(node, actor), static_cast<int>(tids.size()) + 1);
    if (fresh)
      events.push_back(
          {{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", it->second}, {"args", {{"name", actor}}}});
    return it->second;
  };
  // Flows: the trainer's push starts an arrow, the aggregator's apply/gather of the same gradient ends it.
  std::map<std::string, std::uint64_t> flow_ids;
  for (const auto& s : spans) {
    const int tid = tid_of(s.node, s.actor);
    const double ts = (s.start - t0) * 1e6, dur = s.seconds * 1e6;
    nlohmann::json ev{{"name", s.name}, {"cat", s.actor},      {"ph", "X"}, {"ts", ts},
                      {"dur", dur},     {"pid", pids[s.node]}, {"tid", tid}};
    if (!s.correlation.empty())
      ev["args"] = {{"id", s.correlation}};
    events.push_back(ev);
    const bool starts = s.name == "push", ends = s.name == "apply" || s.name == "gather";
    if (!s.correlation.empty() && (starts || ends)) {
      auto [it, fresh] = flow_ids.emplace(s.correlation, flow_ids.size() + 1);
      (void)fresh;
      events.push_back({{"name", "gradient"},
                        {"cat", "flow"},
                        {"ph", starts ? "s" : "f"},
                        {"bp", "e"},
                        {"id", it->second},
                        {"ts", starts ? ts + dur : ts},
                        {"pid", pids[s.node]},
                        {"tid", tid}});
    }
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
}

void write_timeline(const std::string& run_or_metrics_dir, const std::string& out_json) {
  const auto records = read_records(metrics_dir_of(run_or_metrics_dir));
  const auto trace = build_timeline(records);
  std::size_t spans = 0;
  for (const auto& e : trace["traceEvents"])
    spans += e["ph"] == "X";
  if (spans == 0)
    throw error(fmt::format("{}: no span records in the metrics logs (they come from runs of this version on)",
                            run_or_metrics_dir));
  write_file_atomic(out_json, trace.dump());
}

} // namespace troupe::observe
