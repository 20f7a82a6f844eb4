#pragma once
/// A node's supervisor over its actors (OTP-style): it starts them, and when one fails it restarts
/// it after a backoff — with its sibling trainers as the strategy says (one_for_one, one_for_all,
/// rest_for_one) — or escalates when failures exceed the restart intensity (max_restarts within
/// period_s) or a child keeps failing without making progress. Starting and restarting are one
/// code path: the spawn callback. The loader and the aggregator are restarted alone.
///
///   [running] --child down, error--> [backoff] --due, old sibling gone--> [running]
///             --over intensity / no progress--> escalate (the node stops, exit 1)
///   Once the job is over (job_over()), nothing is restarted.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <nlohmann/json.hpp>

#include "config/cluster_spec.hpp"
#include "runtime/restart_policy.hpp"

namespace troupe::runtime {

/// One supervised child: the aggregator, the loader or trainer `rank`.
struct child_id {
  enum class kind { aggregator, loader, trainer };
  kind what = kind::trainer;
  std::size_t rank = 0;
  std::string name() const;
  friend bool operator<(const child_id& a, const child_id& b) {
    return a.what != b.what ? a.what < b.what : a.rank < b.rank;
  }
};

/// How a child is (re)started.
struct start_info {
  double failed_at = 0; ///< wall time of the failure that caused this restart; 0 on the first start
};

class supervisor {
public:
  using spawn_fn = std::function<caf::actor(const child_id&, const start_info&)>;
  using record_fn = std::function<void(nlohmann::json)>;
  /// A counter that grows while a child makes progress (a trainer: clocks computed).
  using progress_fn = std::function<std::uint64_t(const child_id&)>;

  supervisor(std::string node, config::supervisor_spec spec, std::uint64_t seed, spawn_fn spawn, record_fn record,
             progress_fn progress = {});

  /// Starts a child for the first time.
  caf::actor start(const child_id& c);

  enum class verdict { not_mine, exited, restarting, escalate };
  /// A monitored actor is down. `rendered` is the reason as text, for records and logs.
  verdict on_down(const caf::actor_addr& who, const caf::error& reason, const std::string& rendered);
  /// Starts every restart whose backoff has passed (and whose old sibling is gone); returns the new actors.
  std::vector<caf::actor> start_due(std::chrono::steady_clock::time_point now);
  /// No restart waits.
  bool idle() const { return pending_.empty(); }
  /// The job is over (or the node stops): pending restarts are dropped and none is scheduled.
  void stop_restarting() {
    stopping_ = true;
    pending_.clear();
  }
  /// The reason of the last escalation, for the log.
  const std::string& escalation() const { return escalation_; }

private:
  struct pending {
    std::chrono::steady_clock::time_point due;
    child_id child;
    double failed_at = 0, backoff_s = 0;
    caf::actor_addr old; ///< a sibling taken down with it: the new incarnation waits until it is gone
    std::string cause;
  };
  caf::actor start_with(const child_id& c, const start_info& info);
  std::optional<double> count_failure(const child_id& c, const std::string& rendered, nlohmann::json detail);

  std::string node_;
  config::supervisor_spec spec_;
  restart_policy policy_;
  spawn_fn spawn_;
  record_fn record_;
  progress_fn progress_;
  std::map<caf::actor_addr, child_id> running_;
  std::map<child_id, std::uint64_t> progress_at_start_;
  std::map<child_id, std::size_t> failures_without_progress_;
  std::vector<pending> pending_;
  bool stopping_ = false;
  std::string escalation_;
};

} // namespace troupe::runtime
