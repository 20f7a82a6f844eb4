#include "runtime/supervisor.hpp"

#include <iostream>

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "ps/protocol.hpp"
#include "ps/shard_plan.hpp"
#include "runtime/messages.hpp"

namespace troupe::runtime {

namespace {

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::chrono::steady_clock::time_point due_after(double seconds) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

} // namespace

std::string child_id::name() const {
  switch (what) {
  case kind::aggregator: // rank: the shard
    return ps::aggregator_shard_name(rank);
  case kind::loader:
    return ps::loader_name;
  case kind::trainer:
    break;
  }
  return ps::trainer_name(rank);
}

supervisor::supervisor(std::string node, config::supervisor_spec spec, std::uint64_t seed, spawn_fn spawn,
                       record_fn record, progress_fn progress)
    : node_(std::move(node)), spec_(spec), policy_(spec, seed), spawn_(std::move(spawn)), record_(std::move(record)),
      progress_(std::move(progress)) {}

caf::actor supervisor::start(const child_id& c) {
  return start_with(c, start_info{});
}

caf::actor supervisor::start_with(const child_id& c, const start_info& info) {
  auto a = spawn_(c, info);
  running_[a.address()] = c;
  if (progress_)
    progress_at_start_[c] = progress_(c);
  return a;
}

std::optional<double> supervisor::count_failure(const child_id& c, const std::string& rendered, nlohmann::json detail) {
  nlohmann::json r = std::move(detail);
  r["target"] = c.name();
  r["reason"] = rendered;
  // A child that fails again and again before it gets anything done is not helped by restarts,
  // however slowly they come (the restart intensity alone never trips at one failure per period).
  const bool progressed = !progress_ || progress_(c) != progress_at_start_[c];
  const std::size_t stuck = progressed ? (failures_without_progress_[c] = 0) : ++failures_without_progress_[c];
  const auto delay = policy_.on_failure(std::chrono::steady_clock::now());
  if (!delay || stuck > spec_.max_restarts) {
    escalation_ = !delay ? fmt::format("{} failed more than {} times within {} s; giving up", c.name(),
                                       spec_.max_restarts, spec_.period_s)
                         : fmt::format("{} failed {} times in a row without making progress ({}); giving up", c.name(),
                                       stuck, rendered);
    r["event"] = "escalation";
    r["detail"] = escalation_;
    record_(std::move(r));
    std::cerr << fmt::format("troupe-node [{}]: {}\n", node_, escalation_);
    return std::nullopt;
  }
  r["event"] = "failure";
  r["backoff_s"] = *delay;
  record_(std::move(r));
  return delay;
}

supervisor::verdict supervisor::on_down(const caf::actor_addr& who, const caf::error& reason,
                                        const std::string& rendered) {
  bool replaced = false; // a sibling taken down by this supervisor (whatever its exit reason)
  for (auto& p : pending_)
    if (p.old && p.old == who) {
      p.old = caf::actor_addr(); // it is gone: its new incarnation may start
      replaced = true;
    }
  const auto it = running_.find(who);
  if (it == running_.end())
    return replaced ? verdict::exited : verdict::not_mine;
  const child_id c = it->second;
  running_.erase(it);
  // A clean exit, the end of the job, or a failure by decision (user_shutdown: the job itself
  // ended in failure, e.g. too many non-finite gradients) is not restarted.
  if (!reason || replaced || stopping_)
    return verdict::exited;
  if (reason == caf::exit_reason::user_shutdown)
    return verdict::escalate;
  if (c.what != child_id::kind::trainer) {
    const auto delay = count_failure(c, rendered, nlohmann::json::object());
    if (!delay)
      return verdict::escalate;
    std::cerr << fmt::format("troupe-node [{}]: the {} failed; restarting it in {:.2f} s\n", node_, c.name(), *delay);
    pending_.push_back({due_after(*delay), c, wall_now(), *delay, {}, c.name()});
    return verdict::restarting;
  }
  // The failed trainer's siblings, as the strategy says: none, all others, or higher ranks.
  std::vector<std::pair<caf::actor_addr, child_id>> siblings;
  if (spec_.strategy != "one_for_one")
    for (const auto& [addr, other] : running_)
      if (other.what == child_id::kind::trainer && other.rank != c.rank &&
          (spec_.strategy == "one_for_all" || other.rank > c.rank))
        siblings.emplace_back(addr, other);
  auto also = nlohmann::json::array();
  for (const auto& s : siblings)
    also.push_back(s.second.name());
  const auto delay = count_failure(c, rendered, {{"strategy", spec_.strategy}, {"also_restarting", also}});
  if (!delay)
    return verdict::escalate;
  std::cerr << fmt::format("troupe-node [{}]: {} failed; restarting it{} in {:.2f} s ({})\n", node_, c.name(),
                           siblings.empty() ? std::string() : " and " + also.dump(), *delay, spec_.strategy);
  const auto due = due_after(*delay);
  pending_.push_back({due, c, wall_now(), *delay, {}, c.name()});
  for (const auto& [addr, sibling] : siblings) {
    running_.erase(addr); // its exit is part of the restart, not a failure
    if (auto a = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(a, restart_atom::value);
    pending_.push_back({due, sibling, wall_now(), *delay, addr, c.name()});
  }
  return verdict::restarting;
}

std::vector<caf::actor> supervisor::start_due(std::chrono::steady_clock::time_point now) {
  std::vector<caf::actor> started;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->due > now || it->old) {
      ++it;
      continue;
    }
    auto a = start_with(it->child, start_info{it->failed_at});
    record_({{"event", "restart"}, {"target", it->child.name()}, {"backoff_s", it->backoff_s}, {"cause", it->cause}});
    started.push_back(std::move(a));
    it = pending_.erase(it);
  }
  return started;
}

} // namespace troupe::runtime
