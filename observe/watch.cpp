#include "observe/watch.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "observe/peers_view.hpp"
#include "observe/run_summary.hpp"
#include "observe/text_table.hpp"
#include "observe/trainers_view.hpp"

namespace troupe::observe {

namespace {

const char* const red = "\x1b[31m";
const char* const yellow = "\x1b[33m";
const char* const dim = "\x1b[2m";
const char* const reset = "\x1b[0m";

std::string seconds(double s) {
  if (s < 0)
    s = 0;
  if (s < 100)
    return fmt::format("{:.1f}s", s);
  if (s < 6000)
    return fmt::format("{:.0f}m", s / 60);
  return fmt::format("{:.1f}h", s / 3600);
}

std::string figure(double v, const char* format) {
  return std::isnan(v) ? "-" : fmt::format(format, v);
}

/// The trainer everyone waits for: the lowest step; among equal steps (bsp keeps them equal) the
/// one that waits least for the others. Images/s would miss a trainer slowed outside compute.
const actor_summary* slowest_trainer(const run_summary& s) {
  const actor_summary* slowest = nullptr;
  std::size_t trainers = 0;
  const auto share = [](const actor_summary* a) { return std::isnan(a->wait_share) ? 1.0 : a->wait_share; };
  for (const auto& a : s.actors) {
    if (a.role != "trainer")
      continue;
    ++trainers;
    if (slowest == nullptr || a.step < slowest->step || (a.step == slowest->step && share(&a) < share(slowest)))
      slowest = &a;
  }
  return trainers > 1 ? slowest : nullptr;
}

std::string lag_of(const actor_summary& a, const run_summary& s) {
  const auto* lag = a.role == "trainer" ? clock_lag_of(s, a.actor) : nullptr;
  return lag != nullptr ? lag->dump() : "-";
}

} // namespace

std::string render_watch(const std::vector<record>& records, double now, const watch_style& style) {
  const auto s = summarize(records);
  if (records.empty())
    return "troupe watch: no records yet\n";
  std::set<std::string> nodes;
  std::size_t shown = 0;
  for (const auto& a : s.actors) {
    nodes.insert(a.node);
    shown += a.role != "supervisor";
  }
  const auto plural = [](std::size_t n) { return n == 1 ? "" : "s"; };
  const std::string job = !s.finished_ts            ? "job running"
                          : s.finish_reason.empty() ? "job finished"
                                                    : "job finished (" + s.finish_reason + ")";
  std::string out = fmt::format("troupe watch: {} actor{} on {} node{}, {} records over {}; last record {} ago; {}\n",
                                shown, plural(shown), nodes.size(), plural(nodes.size()), records.size(),
                                seconds(s.last_ts - s.first_ts), seconds(now - s.last_ts), job);

  const std::vector<std::string> header = {"NODE", "ACTOR", "ROLE", "STEP",  "LOSS",     "IMAGES/S",
                                           "WAIT", "LAG",   "AGE",  "STATE", "RESTARTS", ""};
  const std::vector<bool> right = {false, false, false, true, true, true, true, true, true, false, true, false};
  std::vector<std::vector<std::string>> rows;
  std::vector<const char*> colors;
  const auto* slowest = slowest_trainer(s);
  for (const auto& a : s.actors) {
    if (a.role == "supervisor") // reports events only; its restarts are listed below the table
      continue;
    const bool stale = !a.finished && now - a.last_ts > style.stale_after_s;
    const char* state = a.finished ? "finished" : stale ? "stale" : a.restarts > 0 ? "restarted" : "running";
    std::string note;
    if (&a == slowest)
      note = "< slowest";
    if (a.restarts > 0)
      note += std::string(note.empty() ? "" : " ") + "! restarted";
    rows.push_back({a.node, a.actor, a.role, std::to_string(a.step), figure(a.loss, "{:.4f}"),
                    figure(a.images_per_s, "{:.0f}"), figure(100 * a.wait_share, "{:.0f}%"), lag_of(a, s),
                    seconds(now - a.last_ts), state, std::to_string(a.restarts), note});
    colors.push_back(a.restarts > 0 ? red : &a == slowest ? yellow : stale ? dim : nullptr);
  }
  if (!style.color)
    colors.assign(rows.size(), nullptr);
  out += text_table(header, right, rows, colors);

  if (const auto* ev = s.last_evaluation)
    out += fmt::format("evaluation: epoch {:.0f} at step {}: test acc {:.2f}%, top-5 {:.2f}%, loss {:.4f} ({} ago)\n",
                       ev->number("epoch"), ev->step, 100 * ev->number("test_acc"), 100 * ev->number("test_top5"),
                       ev->number("test_loss"), seconds(now - ev->ts));
  if (const auto* c = s.last_checkpoint)
    out += fmt::format("checkpoint: step {}, version {:.0f}, stalled training {:.3f}s ({} ago)\n", c->step,
                       c->number("version"), c->number("stall_s"), seconds(now - c->ts));
  for (const auto& r : s.restarts) {
    const auto text = fmt::format("restart: {}/{} at +{} ({})", r.node, r.actor, seconds(r.ts - s.first_ts),
                                  r.reason.empty() ? "no reason given" : r.reason);
    out += style.color ? red + text + reset + '\n' : text + '\n';
  }
  return out + render_trainers(records, s);
}

int run_watch(const watch_options& o, std::ostream& out, const std::atomic<bool>* stop) {
  const auto stopped = [&] { return stop != nullptr && stop->load(); };
  while (true) {
    std::string text;
    const auto dir = metrics_dir_of(o.dir);
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    try {
      const auto result = read_records(dir);
      text = fmt::format("{}  ({} file{})\n", dir, result.files, result.files == 1 ? "" : "s") +
             (o.peers ? render_peers(result.records, now, o.style) : render_watch(result.records, now, o.style));
      if (!result.errors.empty())
        text += fmt::format("{} schema error(s), first: {}\n", result.errors.size(), result.errors.front().to_string());
    } catch (const std::exception& e) {
      if (o.once) {
        out << "troupe-node watch: error: " << e.what() << '\n';
        return 1;
      }
      text = fmt::format("waiting for {} ({})\n", dir, e.what());
    }
    if (o.once) {
      out << text << std::flush;
      return 0;
    }
    out << "\x1b[H\x1b[2J" << text << std::flush;
    // Pace the refresh, and notice a stop request within 50 ms.
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.interval_s);
    while (!stopped() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (stopped())
      return 0;
  }
}

} // namespace troupe::observe
