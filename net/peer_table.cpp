#include "net/peer_table.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace troupe::net {

std::string printable_name(const std::string& id) {
  std::string out;
  for (unsigned char c : id)
    out += std::isprint(c) ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02x}", c);
  return out;
}

peer_table::entry* peer_table::find(const std::string& name) {
  const auto key = printable_name(name);
  if (auto it = entries_.find(key); it != entries_.end())
    return &it->second;
  if (size() >= max_peers_)
    return nullptr;
  return &entries_[key];
}

peer_stats& peer_table::at(const std::string& name) {
  auto* e = find(name);
  return e != nullptr ? e->stats : unknown();
}

std::optional<std::uint64_t> peer_table::start_probe(const std::string& peer, clock::time_point now,
                                                     clock::duration timeout) {
  auto* e = printable_name(peer) == unknown_peer ? nullptr : find(peer);
  if (e == nullptr)
    return std::nullopt; // no entry of its own to time it in
  if (e->probe) {
    if (now - e->probe_sent < timeout)
      return std::nullopt;
    ++e->stats.probes_unanswered;
  }
  e->probe = next_probe_++;
  e->probe_sent = now;
  return e->probe;
}

bool peer_table::finish_probe(const std::string& peer, std::uint64_t id, clock::time_point now) {
  const auto it = entries_.find(printable_name(peer));
  if (it == entries_.end() || it->first == unknown_peer || it->second.probe != id)
    return false;
  auto& e = it->second;
  e.probe.reset();
  const double sample = std::chrono::duration<double>(now - e.probe_sent).count();
  auto& s = e.stats;
  s.rtt_s = s.rtt_samples == 0 ? sample : 0.875 * s.rtt_s + 0.125 * sample;
  s.rtt_min_s = s.rtt_samples == 0 ? sample : std::min(s.rtt_min_s, sample);
  s.rtt_last_s = sample;
  ++s.rtt_samples;
  return true;
}

std::map<std::string, peer_stats> peer_table::snapshot() const {
  std::map<std::string, peer_stats> out;
  for (const auto& [name, e] : entries_) {
    const auto& s = e.stats;
    const bool empty = s.messages_sent == 0 && s.messages_received == 0 && s.rejected == 0 && s.send_failures == 0;
    if (name != unknown_peer || !empty)
      out.emplace(name, s);
  }
  return out;
}

std::size_t peer_table::size() const {
  return entries_.size() - entries_.count(unknown_peer);
}

} // namespace troupe::net
