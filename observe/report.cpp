#include "observe/report.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "observe/report_sections.hpp"
#include "observe/run_summary.hpp"
#include "observe/svg_plot.hpp"
#include "observe/trainer_stats.hpp"

namespace troupe::observe {

namespace {

const char* const style = R"(body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{margin:0 0 4px 0;font-size:24px}h2{font-size:18px;margin:24px 0 8px 0}
.meta{color:#555;margin:0 0 12px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px}
.card b{display:block;font-size:20px}.card span{color:#666;font-size:12px}
table{border-collapse:collapse;background:#fff;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 10px;text-align:left}
td.n{text-align:right}.bad{color:#d62728;font-weight:bold}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:4px}svg.plot{max-width:100%;height:auto}
pre{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px;font-size:12px;overflow-x:auto}
)";

/// Series of one figure per actor of a role, as (x, y) points in read order.
using per_actor = std::map<std::string, series>;

void add_point(per_actor& m, const std::string& name, double x, double y) {
  auto& s = m[name];
  s.name = name;
  s.points.emplace_back(x, y);
}

const char* const test_color = "#222222";

/// One colour per actor in every plot: the aggregator blue, trainer-k cycles through palette
/// colours 1..8 (palette(9), red, is kept for restarts).
std::string actor_color(const std::string& actor) {
  if (const auto k = trainer_rank(actor))
    return palette(1 + *k % 8);
  return actor == "aggregator" ? palette(0) : "#555555";
}

std::vector<series> values_of(per_actor& m) {
  std::vector<std::string> names;
  for (const auto& [name, s] : m)
    names.push_back(name);
  std::sort(names.begin(), names.end(), natural_less);
  std::vector<series> out;
  for (const auto& name : names) {
    out.push_back(std::move(m[name]));
    out.back().color = actor_color(name);
    out.back().width = 1.3;
  }
  return out;
}

std::string utc(double ts) {
  const auto t = static_cast<std::time_t>(ts);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string card(const std::string& value, const std::string& what) {
  return fmt::format("<div class=\"card\"><b>{}</b><span>{}</span></div>\n", html_escape(value), html_escape(what));
}

std::string figure(const std::string& svg) {
  return "<figure>\n" + svg + "</figure>\n";
}

} // namespace

std::string render_report(const read_result& run, const std::string& source) {
  const auto s = summarize(run.records);
  const double t0 = s.first_ts;
  // Sorted by time for the wall-time plots; stable, so one actor's records keep their order.
  std::vector<const record*> by_time;
  for (const auto& r : run.records)
    by_time.push_back(&r);
  std::stable_sort(by_time.begin(), by_time.end(), [](const record* a, const record* b) { return a->ts < b->ts; });

  // Test figures in black with dots; red is kept for restarts, palette colours for the actors.
  series train_loss_step{"train loss (aggregator)", {}, palette(0)}, test_loss_step{"test loss", {}, test_color, true};
  series train_acc_step{"train top-1 (aggregator)", {}, palette(0)}, test_acc_step{"test top-1", {}, test_color, true};
  series test_top5_step{"test top-5", {}, test_color, true, true};
  series train_loss_time = train_loss_step, test_loss_time = test_loss_step;
  series train_acc_time = train_acc_step, test_acc_time = test_acc_step;
  per_actor trainer_loss, images, steps, lag, shares;
  const record* last_progress = s.last_aggregator_progress;
  double best_acc = std::nan("");
  for (const record* r : by_time) {
    const double step = static_cast<double>(r->step), t = r->ts - t0;
    if (r->fields.contains("event"))
      continue; // events are listed below the plots (restarts are marked on the time axes)
    if (is_aggregator_evaluation(*r)) {
      test_loss_step.points.emplace_back(step, r->number("test_loss"));
      test_loss_time.points.emplace_back(t, r->number("test_loss"));
      test_acc_step.points.emplace_back(step, 100 * r->number("test_acc"));
      test_top5_step.points.emplace_back(step, 100 * r->number("test_top5"));
      test_acc_time.points.emplace_back(t, 100 * r->number("test_acc"));
      best_acc = std::isnan(best_acc) ? r->number("test_acc") : std::max(best_acc, r->number("test_acc"));
    } else if (is_aggregator_progress(*r)) {
      train_loss_step.points.emplace_back(step, r->number("loss"));
      train_loss_time.points.emplace_back(t, r->number("loss"));
      train_acc_step.points.emplace_back(step, 100 * r->number("acc"));
      train_acc_time.points.emplace_back(t, 100 * r->number("acc"));
      const auto& l = r->fields["clock_lag"];
      for (std::size_t k = 0; l.is_array() && k < l.size(); ++k)
        add_point(lag, "trainer-" + std::to_string(k), step, l[k].is_number() ? l[k].get<double>() : std::nan(""));
    } else if (r->role == "trainer") {
      add_point(trainer_loss, r->actor, step, r->number("loss"));
      add_point(images, r->actor, t, r->number("images_per_s"));
      if (!std::isnan(r->number("share"))) // absent in runs older than the field
        add_point(shares, r->actor, step, r->number("share"));
    }
    if (r->role == "trainer" || r->role == "aggregator")
      add_point(steps, r->role == "trainer" ? r->actor : "aggregator", t, step);
  }

  std::vector<x_marker> restarts;
  for (const auto& e : s.restarts)
    restarts.push_back({e.ts - t0, e.actor});
  const std::string step_axis = "step (clock of the slowest trainer for the aggregator)";
  const std::string time_axis = "wall time since the first record (s)";

  line_plot loss_step{"Loss vs step", step_axis, "loss", {train_loss_step, test_loss_step}, {}};
  for (auto& t : values_of(trainer_loss))
    loss_step.lines.push_back(std::move(t));
  const line_plot acc_step{
      "Test accuracy vs step", step_axis, "accuracy (%)", {test_acc_step, test_top5_step, train_acc_step}, {}};
  const line_plot loss_time{"Loss vs wall time", time_axis, "loss", {train_loss_time, test_loss_time}, restarts};
  const line_plot acc_time{
      "Test accuracy vs wall time", time_axis, "accuracy (%)", {test_acc_time, train_acc_time}, restarts};
  const line_plot ips{"Images/s per trainer", time_axis, "images/s (compute)", values_of(images), restarts};
  const line_plot progress{"Step vs wall time per actor", time_axis, "step", values_of(steps), restarts};
  const line_plot lags{"Clock lag per trainer", "step", "clocks ahead of the slowest", values_of(lag), {}};
  const bool has_shares = !shares.empty();
  const line_plot share_plot{
      "Share per trainer", "step (the trainer's clock)", "samples per clock", values_of(shares), {}};
  bar_chart staleness{"Staleness histogram", "staleness (versions between read and apply)", "updates applied", {}};
  if (last_progress != nullptr) {
    std::map<std::size_t, double> buckets; // cumulative counts by staleness; invalid keys skipped
    for (const auto& [k, v] : last_progress->fields["staleness_hist"].items())
      if (v.is_number() && !k.empty() && k.size() < 10 && k.find_first_not_of("0123456789") == std::string::npos)
        buckets[std::stoul(k)] = v.get<double>();
    // Empty buckets are shown as zero bars while the axis stays readable.
    const bool dense = !buckets.empty() && buckets.rbegin()->first <= 64;
    for (std::size_t k = 0; dense && k <= buckets.rbegin()->first; ++k)
      buckets.try_emplace(k, 0.0);
    for (const auto& [k, v] : buckets)
      staleness.bars.push_back({std::to_string(k), v});
  }

  std::set<std::string> nodes;
  for (const auto& a : s.actors)
    nodes.insert(a.node);
  std::string h = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<title>Troupe run report: {0}</title>\n<style>{1}</style></head><body>\n"
      "<h1>Troupe run report</h1>\n<p class=\"meta\">{0} &middot; {2} records from {3} "
      "node(s), {4} file(s) &middot; from {5} for {6:.1f} s &middot; {7}</p>\n",
      html_escape(source), style, run.records.size(), nodes.size(), run.files, utc(t0), s.last_ts - t0,
      !s.finished_ts ? "job not finished (or still running)"
                     : "job finished" + (s.finish_reason.empty() ? "" : " (" + html_escape(s.finish_reason) + ")"));
  h += "<div class=\"cards\">\n";
  if (s.last_evaluation != nullptr)
    h += card(fmt::format("{:.2f}%", 100 * s.last_evaluation->number("test_acc")),
              fmt::format("final test top-1 (epoch {:.0f})", s.last_evaluation->number("epoch")));
  if (!std::isnan(best_acc))
    h += card(fmt::format("{:.2f}%", 100 * best_acc), "best test top-1");
  if (last_progress != nullptr)
    h += card(fmt::format("{:.4f}", last_progress->number("loss")), "last train loss") +
         card(fmt::format("{:.0f}", last_progress->number("version")), "updates applied");
  h += card(std::to_string(s.restarts.size()), "restarts") + card(std::to_string(run.errors.size()), "schema errors");
  h += "</div>\n<h2>Plots</h2>\n<div class=\"plots\">\n";
  for (const line_plot* p :
       std::initializer_list<const line_plot*>{&loss_step, &acc_step, &loss_time, &acc_time, &ips, &progress, &lags})
    h += figure(render_svg(*p));
  if (has_shares)
    h += figure(render_svg(share_plot));
  h += figure(render_svg(staleness)) + "</div>\n";
  const auto trainers = summarize_trainers(run.records, s);
  h += trainers_table(trainers) + balance_table(trainers);

  h += "<h2>Actors</h2>\n<table><tr><th>node</th><th>actor</th><th>role</th><th>records</th><th>last step</th>"
       "<th>last record at</th><th>restarts</th><th>state</th></tr>\n";
  for (const auto& a : s.actors)
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                     "<td class=\"n\">{:.1f} s</td><td class=\"n{}\">{}</td><td>{}</td></tr>\n",
                     html_escape(a.node), html_escape(a.actor), html_escape(a.role), a.records, a.step, a.last_ts - t0,
                     a.restarts > 0 ? " bad" : "", a.restarts, a.finished ? "finished" : "not finished");
  h += "</table>\n<h2>Restarts</h2>\n";
  if (s.restarts.empty())
    h += "<p>None recorded.</p>\n";
  else {
    h += "<table><tr><th>at</th><th>node</th><th>actor</th><th>reason</th></tr>\n";
    for (const auto& e : s.restarts)
      h += fmt::format("<tr><td class=\"n\">{:.1f} s</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", e.ts - t0,
                       html_escape(e.node), html_escape(e.actor), html_escape(e.reason));
    h += "</table>\n";
  }
  h += events_table(by_time, t0);
  h += config_section(by_time);
  if (!run.errors.empty()) {
    h += fmt::format("<h2>Schema errors ({})</h2>\n<ul>\n", run.errors.size());
    for (std::size_t i = 0; i < std::min<std::size_t>(run.errors.size(), 50); ++i)
      h += "<li>" + html_escape(run.errors[i].to_string()) + "</li>\n";
    h += "</ul>\n";
  }
  return h + "</body></html>\n";
}

void write_report(const std::string& run_dir_or_metrics_dir, const std::string& out_html) {
  const auto dir = metrics_dir_of(run_dir_or_metrics_dir);
  const auto run = read_records(dir);
  if (run.records.empty())
    throw error(fmt::format("{}: no metrics records to report ({} .jsonl file(s), {} error(s))", dir, run.files,
                            run.errors.size()));
  write_file_atomic(out_html, render_report(run, dir));
}

} // namespace troupe::observe
