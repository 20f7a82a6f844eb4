#include "observe/run_summary.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>

namespace troupe::observe {

namespace {

int role_rank(const std::string& role) {
  if (role == "aggregator")
    return 0;
  if (role == "loader")
    return 1;
  if (role == "trainer")
    return 2;
  return 3;
}

} // namespace

bool is_aggregator_progress(const record& r) {
  return r.role == "aggregator" && !r.fields.contains("event") && !r.fields.contains("test_loss");
}

bool is_aggregator_evaluation(const record& r) {
  return r.role == "aggregator" && !r.fields.contains("event") && r.fields.contains("test_loss");
}

std::optional<std::size_t> trainer_rank(const std::string& actor) {
  const std::string prefix = "trainer-";
  if (actor.size() <= prefix.size() || actor.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  std::size_t k = 0;
  for (std::size_t i = prefix.size(); i < actor.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(actor[i])))
      return std::nullopt;
    k = k * 10 + static_cast<std::size_t>(actor[i] - '0');
  }
  return k;
}

const nlohmann::json* clock_lag_of(const run_summary& s, const std::string& actor) {
  const auto rank = trainer_rank(actor);
  if (!rank || s.last_aggregator_progress == nullptr)
    return nullptr;
  // find, not []: a record that breaks the schema is kept, and may lack clock_lag.
  const auto& fields = s.last_aggregator_progress->fields;
  const auto lag = fields.find("clock_lag");
  if (lag == fields.end() || !lag->is_array() || *rank >= lag->size() || !(*lag)[*rank].is_number())
    return nullptr;
  return &(*lag)[*rank];
}

std::optional<double> late_dropped_of(const run_summary& s, const std::string& actor) {
  const auto rank = trainer_rank(actor);
  if (!rank)
    return std::nullopt;
  for (const record* r : {s.finish, s.last_aggregator_progress}) {
    if (r == nullptr)
      continue;
    const auto late = r->fields.find("late_by_trainer");
    if (late != r->fields.end() && late->is_array() && *rank < late->size() && (*late)[*rank].is_number())
      return (*late)[*rank].get<double>();
  }
  return std::nullopt;
}

bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  const auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      const auto i0 = i, j0 = j;
      while (i < a.size() && digit(a[i]))
        ++i;
      while (j < b.size() && digit(b[j]))
        ++j;
      const auto x = std::stoull(a.substr(i0, std::min<std::size_t>(i - i0, 18)));
      const auto y = std::stoull(b.substr(j0, std::min<std::size_t>(j - j0, 18)));
      if (x != y)
        return x < y;
    } else {
      if (a[i] != b[j])
        return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

run_summary summarize(const std::vector<record>& records) {
  run_summary s;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::map<std::pair<std::string, std::string>, actor_summary> actors;
  std::map<std::pair<std::string, std::string>, std::vector<restart_event>> backwards, supervised;
  for (const auto& r : records) {
    if (s.first_ts == 0 || r.ts < s.first_ts)
      s.first_ts = r.ts;
    s.last_ts = std::max(s.last_ts, r.ts);
    auto [it, fresh] = actors.try_emplace({r.node, r.actor});
    auto& a = it->second;
    if (fresh) {
      a.node = r.node;
      a.actor = r.actor;
      a.role = r.role;
      a.first_ts = r.ts;
      a.loss = a.images_per_s = a.wait_share = nan;
    } else if (r.step < a.step) {
      backwards[{r.node, r.actor}].push_back({r.ts, r.node, r.actor, fmt::format("step {} -> {}", a.step, r.step)});
    }
    ++a.records;
    a.last_ts = r.ts;
    a.step = r.step;
    if (!std::isnan(r.number("loss")))
      a.loss = r.number("loss");
    if (!std::isnan(r.number("images_per_s")))
      a.images_per_s = r.number("images_per_s");
    const double wait = r.number("wait_s"), busy = wait + r.number("compute_s");
    if (!std::isnan(busy) && busy > 0)
      a.wait_share = wait / busy;
    const auto event = r.text("event");
    if (event == "restart" && !r.text("target").empty()) {
      const auto target = r.text("target");
      supervised[{r.node, target}].push_back({r.ts, r.node, target, r.text("reason")});
    }
    if (event == "resume")
      supervised[{r.node, r.actor}].push_back({r.ts, r.node, r.actor, "resumed from " + r.text("path")});
    if ((r.role == "loader" && event.empty()) || event == "finish") {
      if (!s.finished_ts || r.ts >= *s.finished_ts)
        s.finished_ts = r.ts;
      if (event == "finish") {
        s.finish_reason = r.text("reason");
        s.finish = &r;
      }
    }
    const record** latest = is_aggregator_progress(r)     ? &s.last_aggregator_progress
                            : is_aggregator_evaluation(r) ? &s.last_evaluation
                            : event == "checkpoint"       ? &s.last_checkpoint
                                                          : nullptr;
    if (latest != nullptr && (*latest == nullptr || r.ts >= (*latest)->ts))
      *latest = &r;
  }
  // Restart and resume events account for an actor's restarts better than its step going back.
  auto all = supervised;
  for (auto& [key, events] : backwards)
    if (!all.count(key))
      all[key] = events;
  for (auto& [key, events] : all) {
    if (auto it = actors.find(key); it != actors.end())
      it->second.restarts = events.size();
    s.restarts.insert(s.restarts.end(), events.begin(), events.end());
  }
  std::stable_sort(s.restarts.begin(), s.restarts.end(),
                   [](const restart_event& a, const restart_event& b) { return a.ts < b.ts; });
  for (auto& [key, a] : actors) {
    a.finished = s.finished_ts && a.last_ts <= *s.finished_ts + finish_slack_s;
    s.actors.push_back(a);
  }
  std::sort(s.actors.begin(), s.actors.end(), [](const actor_summary& a, const actor_summary& b) {
    if (a.node != b.node)
      return natural_less(a.node, b.node);
    if (role_rank(a.role) != role_rank(b.role))
      return role_rank(a.role) < role_rank(b.role);
    return natural_less(a.actor, b.actor);
  });
  return s;
}

} // namespace troupe::observe
