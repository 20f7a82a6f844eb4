#include "observe/peers_view.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "observe/text_table.hpp"

namespace troupe::observe {

namespace {

const char* const yellow = "\x1b[33m";

std::string count(const nlohmann::json& v) {
  return v.is_number() ? fmt::format("{}", v.get<double>()) : "-";
}

std::string bytes(const nlohmann::json& v) {
  if (!v.is_number())
    return "-";
  const double b = v.get<double>();
  if (b < 1e3)
    return fmt::format("{:.0f}B", b);
  if (b < 1e6)
    return fmt::format("{:.1f}kB", b / 1e3);
  if (b < 1e9)
    return fmt::format("{:.1f}MB", b / 1e6);
  return fmt::format("{:.2f}GB", b / 1e9);
}

/// A round trip in seconds as "0.42ms", "212ms"; "-" when not measured.
std::string millis(const nlohmann::json& v) {
  if (!v.is_number())
    return "-";
  const double ms = 1e3 * v.get<double>();
  return ms < 10 ? fmt::format("{:.2f}ms", ms) : ms < 100 ? fmt::format("{:.1f}ms", ms) : fmt::format("{:.0f}ms", ms);
}

std::string age(double s) {
  return s < 100 ? fmt::format("{:.1f}s", std::max(s, 0.0)) : fmt::format("{:.0f}m", s / 60);
}

} // namespace

std::string render_peers(const std::vector<record>& records, double now, const watch_style& style) {
  std::map<std::string, const record*> latest; // node -> its latest transport record
  for (const auto& r : records)
    if (r.role == "transport" && r.fields.contains("peers") && r.fields["peers"].is_object()) {
      auto& slot = latest[r.node];
      if (slot == nullptr || r.ts >= slot->ts)
        slot = &r;
    }
  if (latest.empty())
    return "troupe watch --peers: no transport records with per-peer figures yet (written every 5 s per node)\n";

  // Slow links: a link's smallest round trip over 4x the fastest link's and over 1 ms more than it
  // (a link of a delayed or overloaded node stands out against loopback-like ones; a cluster whose
  // links are all alike marks none). The smallest, not the smoothed one: a probe that queued behind
  // a parameter frame says the link was busy, not that it is slow.
  const auto link_rtt = [](const nlohmann::json& p) -> double {
    for (const char* k : {"rtt_min_s", "rtt_s"})
      if (p.contains(k) && p[k].is_number())
        return p[k].get<double>();
    return -1;
  };
  double fastest = -1;
  for (const auto& [node, r] : latest)
    for (const auto& [peer, p] : r->fields["peers"].items())
      if (const double rtt = p.is_object() ? link_rtt(p) : -1; rtt >= 0)
        fastest = fastest < 0 ? rtt : std::min(fastest, rtt);
  const auto slow = [fastest, &link_rtt](const nlohmann::json& p) {
    const double rtt = link_rtt(p);
    return fastest >= 0 && rtt >= 0 && rtt > 4 * fastest && rtt > fastest + 1e-3;
  };
  std::map<std::string, std::size_t> in_slow; // node -> slow links it is an end of
  std::size_t slow_links = 0;

  std::string out = fmt::format("troupe watch --peers: {} node{}, each one's latest transport record\n", latest.size(),
                                latest.size() == 1 ? "" : "s");
  std::vector<std::vector<std::string>> rows;
  std::vector<const char*> colors;
  for (const auto& [node, r] : latest)
    for (const auto& [peer, p] : r->fields["peers"].items()) {
      if (!p.is_object())
        continue;
      const auto get = [&p](const char* k) { return p.contains(k) ? p[k] : nlohmann::json(); };
      const bool marked = slow(p);
      if (marked) {
        ++slow_links;
        ++in_slow[node];
        ++in_slow[peer];
      }
      rows.push_back({node, peer, millis(get("rtt_s")), millis(get("rtt_min_s")), count(get("probes_unanswered")),
                      count(get("messages_sent")), bytes(get("bytes_sent")), count(get("messages_received")),
                      bytes(get("bytes_received")), count(get("rejected")), count(get("send_failures")),
                      age(now - r->ts), marked ? "< slow" : ""});
      colors.push_back(marked && style.color ? yellow : nullptr);
    }
  out += text_table({"NODE", "PEER", "RTT", "RTT MIN", "LOST", "SENT", "BYTES OUT", "RECEIVED", "BYTES IN", "REFUSED",
                     "FAILED", "AGE", ""},
                    {false, false, true, true, true, true, true, true, true, true, true, true, false}, rows, colors);
  for (const auto& [name, n] : in_slow)
    if (n == slow_links && slow_links > 1) // one node at an end of every slow link: that is the one to look at
      out += fmt::format("every slow link ({}) has {} at one end\n", slow_links, name);

  rows.clear();
  colors.clear();
  for (const auto& [node, r] : latest)
    for (const auto& [field, queue] :
         {std::pair<const char*, const char*>{"mailboxes", "mailbox"}, {"prefetch", "prefetch"}})
      if (r->fields.contains(field) && r->fields[field].is_object())
        for (const auto& [actor, d] : r->fields[field].items())
          if (d.is_object()) {
            rows.push_back({node, actor, queue, count(d.value("depth", nlohmann::json())),
                            count(d.value("max", nlohmann::json()))});
            colors.push_back(nullptr);
          }
  if (!rows.empty())
    out += "queues (MAX: highest since the node's previous transport record):\n" +
           text_table({"NODE", "ACTOR", "QUEUE", "DEPTH", "MAX"}, {false, false, false, true, true}, rows, colors);
  return out;
}

} // namespace troupe::observe
