#include "observe/report_sections.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "observe/event_lines.hpp"
#include "observe/svg_plot.hpp"

namespace troupe::observe {

namespace {

/// A fraction as "12.3 %", "-" when unknown.
std::string share(double v) {
  return std::isnan(v) ? "-" : fmt::format("{:.1f} %", 100 * v);
}

} // namespace

std::string events_table(const std::vector<const record*>& by_time, double t0) {
  std::vector<std::pair<const record*, event_line>> lines;
  std::map<std::string, std::size_t> per_kind;
  for (const record* r : by_time)
    if (auto line = describe_event(*r)) {
      ++per_kind[line->kind];
      lines.emplace_back(r, std::move(*line));
    }
  std::string h = "<h2>Events</h2>\n";
  if (lines.empty())
    return h + "<p>None recorded.</p>\n";
  std::string counts;
  for (const auto& [kind, n] : per_kind)
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", n, html_escape(kind));
  h += fmt::format("<p class=\"meta\">{} in all: {}</p>\n", lines.size(), counts);
  h += "<table><tr><th>at</th><th>node</th><th>actor</th><th>event</th><th>step</th><th>what happened</th></tr>\n";
  const std::size_t head = lines.size() > max_event_rows ? max_event_rows / 2 : lines.size();
  const std::size_t tail_from = lines.size() > max_event_rows ? lines.size() - max_event_rows / 2 : lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i == head && head < tail_from) {
      h += fmt::format("<tr><td colspan=\"6\" class=\"meta\">... {} more events left out (all {} counted above)"
                       "</td></tr>\n",
                       tail_from - head, lines.size());
      i = tail_from;
    }
    const auto& [r, line] = lines[i];
    const bool bad = line.kind == "failure" || line.kind == "escalation" || line.kind == "gradient_refused" ||
                     line.kind == "peer_lost" || line.kind == "checkpoint_skipped" ||
                     (line.kind == "node_exit" && r->text("outcome") == "failed");
    h += fmt::format("<tr><td class=\"n\">{:.1f} s</td><td>{}</td><td>{}</td><td{}>{}</td><td class=\"n\">{}</td>"
                     "<td>{}</td></tr>\n",
                     r->ts - t0, html_escape(r->node), html_escape(r->actor), bad ? " class=\"bad\"" : "",
                     html_escape(line.kind), r->step, html_escape(line.text));
  }
  return h + "</table>\n";
}

std::string trainers_table(const std::vector<trainer_stats>& trainers) {
  std::string h = "<h2>Trainers</h2>\n";
  if (trainers.empty())
    return h + "<p>No trainer records.</p>\n";
  h += "<table><tr><th>node</th><th>trainer</th><th>records</th><th>last clock</th><th>images/s (compute)</th>"
       "<th>wait share</th><th>lag behind the fastest (mean / max clocks)</th><th>restarts</th></tr>\n";
  for (const auto& t : trainers)
    h += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                     "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1f} / {:.0f}</td>"
                     "<td class=\"n{}\">{}</td></tr>\n",
                     html_escape(t.node), html_escape(t.actor), t.records, t.clock,
                     std::isnan(t.images_per_s) ? std::string("-") : fmt::format("{:.0f}", t.images_per_s),
                     share(t.wait_share), t.mean_lag, t.max_lag, t.restarts > 0 ? " bad" : "", t.restarts);
  return h + "</table>\n<p class=\"meta\">Images/s: images per second of compute over the run. Wait share: "
             "wait_s / (wait_s + compute_s) over the run; the trainer the others wait for has the lowest. Lag: "
             "how many clocks the trainer was behind the fastest one, each time a trainer reported.</p>\n";
}

std::string balance_table(const std::vector<trainer_stats>& trainers) {
  std::string h = "<h2>Share, speed and idle time per trainer</h2>\n";
  if (trainers.empty())
    return h + "<p>No trainer records.</p>\n";
  const auto number = [](double v, const char* format) { return std::isnan(v) ? "-" : fmt::format(format, v); };
  const bool late =
      std::any_of(trainers.begin(), trainers.end(), [](const trainer_stats& t) { return !std::isnan(t.late_dropped); });
  h += "<table><tr><th>node</th><th>trainer</th><th>share (samples/clock, last)</th><th>share (mean)</th>"
       "<th>speed (images/s of compute)</th><th>waiting for parameters</th><th>waiting for batches</th>";
  h += late ? "<th>late gradients dropped</th></tr>\n" : "</tr>\n";
  for (const auto& t : trainers)
    h += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                     "<td class=\"n\">{}</td><td class=\"n\">{}</td>{}</tr>\n",
                     html_escape(t.node), html_escape(t.actor), number(t.share, "{:.1f}"),
                     number(t.mean_share, "{:.1f}"), number(t.images_per_s, "{:.0f}"), share(t.wait_params_ratio),
                     share(t.wait_batch_ratio),
                     late ? fmt::format("<td class=\"n\">{}</td>", number(t.late_dropped, "{:.0f}")) : std::string());
  return h + "</table>\n<p class=\"meta\">Share: samples per clock the trainer was given (with "
             "<code>job.balance: speed</code> the loader's cut, else the batch). Waiting: fraction of its wall time "
             "over the run. Late gradients dropped (<code>job.backup_trainers</code>): its pushes that came after "
             "their round had closed. \"-\": not in the records (a run older than these fields).</p>\n";
}

std::string config_section(const std::vector<const record*>& by_time) {
  const record* config = nullptr;
  for (const record* r : by_time)
    if (r->text("event") == "config")
      config = r;
  std::string h = "<h2>Configuration</h2>\n";
  if (config == nullptr)
    return h + "<p>Not in the records (no <code>config</code> event).</p>\n";
  auto yaml = config->text("yaml");
  const bool cut = yaml.size() > max_config_bytes;
  if (cut)
    yaml.resize(max_config_bytes);
  const auto overrides = config->fields.find("overrides");
  std::string set;
  if (overrides != config->fields.end() && overrides->is_array())
    for (const auto& o : *overrides)
      set += " --set " + (o.is_string() ? o.get<std::string>() : o.dump());
  h += fmt::format("<p class=\"meta\">{}{} &middot; written by {} on {}</p>\n<pre>{}{}</pre>\n",
                   html_escape(config->text("source")), html_escape(set), html_escape(config->actor),
                   html_escape(config->node), html_escape(yaml), cut ? "\n(cut here: longer than 64 KiB)" : "");
  return h;
}

} // namespace troupe::observe
