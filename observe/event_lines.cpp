#include "observe/event_lines.hpp"

#include <cmath>

#include <fmt/format.h>

#include "observe/run_summary.hpp"

namespace troupe::observe {

namespace {

/// A number for a line: "?" when missing or NaN, else at most `digits` decimals.
std::string num(const record& r, const char* key, int digits = 0) {
  const double v = r.number(key);
  return std::isnan(v) ? "?" : fmt::format("{:.{}f}", v, digits);
}

std::string percent(const record& r, const char* key) {
  const double v = r.number(key);
  return std::isnan(v) ? "?" : fmt::format("{:.2f} %", 100 * v);
}

/// The strings of an array field, comma-separated ("" when absent).
std::string joined(const record& r, const char* key) {
  std::string out;
  const auto it = r.fields.find(key);
  if (it == r.fields.end() || !it->is_array())
    return out;
  for (const auto& v : *it)
    out += (out.empty() ? "" : ", ") + (v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

/// "k = v" for the scalar fields beyond the common ones; arrays and objects are left out (they
/// are what made the old events table unreadable).
std::string scalar_fields(const record& r) {
  std::string out;
  for (const auto& [k, v] : r.fields.items()) {
    if (k == "ts" || k == "node" || k == "actor" || k == "role" || k == "step" || k == "event" || v.is_structured())
      continue;
    out += (out.empty() ? "" : ", ") + k + " = " + (v.is_string() ? v.get<std::string>() : v.dump());
    if (out.size() > max_event_line)
      break;
  }
  return out;
}

std::string text_of(const record& r, const std::string& event) {
  if (event == "finish")
    return fmt::format("job ended: {} after {} s, {} updates", r.text("reason"), num(r, "elapsed_s", 1),
                       num(r, "version"));
  if (event == "checkpoint")
    return fmt::format("saved {} (version {}); training stalled {} s", r.text("path"), num(r, "version"),
                       num(r, "stall_s", 3));
  if (event == "checkpoint_skipped")
    return "passed over a damaged checkpoint: " + r.text("reason");
  if (event == "resume")
    return fmt::format("resumed from {} (version {})", r.text("path"), num(r, "version"));
  if (event == "gradient_refused")
    return fmt::format("refused the gradient of {} for clock {}: {}; {} in a row", r.text("target"), num(r, "clock"),
                       r.text("reason"), num(r, "in_a_row"));
  if (event == "membership") {
    const auto lost = joined(r, "lost");
    return fmt::format("{} trainer(s) from clock {}: {}{}", num(r, "trainers"), num(r, "clock"), r.text("reason"),
                       lost.empty() ? "; none absent" : "; absent: " + lost);
  }
  if (event == "peer_lost")
    return fmt::format("node '{}' silent for {} s: declared lost", r.text("target"), num(r, "silent_s", 1));
  if (event == "peer_back")
    return fmt::format("node '{}' is back", r.text("target"));
  if (event == "recovered")
    return fmt::format("{} trains again, {} s after its failure", r.text("target"), num(r, "recovery_s", 2));
  if (event == "resync")
    return fmt::format("{} re-synced to clock {} (version {})", r.text("target"), r.step, num(r, "version"));
  if (event == "restart") {
    const auto why = !r.text("reason").empty()                                         ? r.text("reason")
                     : !r.text("cause").empty() && r.text("cause") != r.text("target") ? "with " + r.text("cause")
                                                                                       : std::string();
    return fmt::format("restarted {} after {} s backoff{}", r.text("target"), num(r, "backoff_s", 2),
                       why.empty() ? "" : " (" + why + ")");
  }
  if (event == "failure") {
    const auto also = joined(r, "also_restarting");
    return fmt::format("{} failed: {}; restarting in {} s{}{}", r.text("target"), r.text("reason"),
                       num(r, "backoff_s", 2), r.text("strategy").empty() ? "" : " (" + r.text("strategy") + ")",
                       also.empty() ? "" : ", with " + also);
  }
  if (event == "node_exit")
    return fmt::format("node {} (exit {}): {}", r.text("outcome"), num(r, "exit_code"), r.text("reason"));
  if (event == "escalation")
    return fmt::format("{} failed too often: {}; the node gives up", r.text("target"), r.text("reason"));
  if (event == "done")
    return fmt::format("{} done: T={}, regret {} (communication {}), arm {} (best {})", r.text("algorithm"),
                       num(r, "T"), num(r, "cumulative_regret", 1), num(r, "communication_cost", 1),
                       r.fields.contains("chosen") && r.fields["chosen"].is_number() ? num(r, "chosen") : "none",
                       num(r, "best_arm"));
  if (event == "shutdown")
    return fmt::format("host ended ({}) after phase {}: {} pulls, {} uploads", r.text("reason"), num(r, "phase"),
                       num(r, "pulls"), num(r, "communications"));
  return scalar_fields(r);
}

} // namespace

std::optional<event_line> describe_event(const record& r) {
  if (is_aggregator_evaluation(r))
    return event_line{"evaluation", fmt::format("epoch {}: test top-1 {}, top-5 {}, loss {} (version {})",
                                                num(r, "epoch"), percent(r, "test_acc"), percent(r, "test_top5"),
                                                num(r, "test_loss", 4), num(r, "version"))};
  const auto event = r.text("event");
  if (event.empty() || event == "spans" || event == "config")
    return std::nullopt;
  auto text = text_of(r, event);
  if (text.size() > max_event_line) {
    auto cut = max_event_line - 3;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) // not inside a UTF-8 character
      --cut;
    text = text.substr(0, cut) + "...";
  }
  return event_line{event, std::move(text)};
}

} // namespace troupe::observe
