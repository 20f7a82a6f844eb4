#pragma once
/// What the records say about each actor of a run: its latest figures, whether it restarted,
/// finished or went quiet. Shared by the watch view and the report.

#include <optional>
#include <string>
#include <vector>

#include "observe/records.hpp"

namespace troupe::observe {

/// One restart of an actor: from a supervisor record ("event": "restart", "target": actor), a
/// "resume" event (the actor continued from a checkpoint) or, when the actor has neither, from its
/// step going backwards.
struct restart_event {
  double ts = 0;
  std::string node, actor;
  std::string reason; ///< the supervisor's reason, "resumed from <path>" or "step N -> M"
};

/// One actor (node + actor name) across its records, read in file order.
struct actor_summary {
  std::string node, actor, role;
  std::size_t records = 0;
  double first_ts = 0, last_ts = 0;
  std::uint64_t step = 0;            ///< step of the last record
  double loss = 0, images_per_s = 0; ///< from the last record that has them; NaN if none
  /// wait_s / (wait_s + compute_s) of the last trainer record: the share of its working time spent
  /// waiting for batches or parameters; the trainer everyone waits for has the lowest. NaN if none.
  double wait_share = 0;
  std::size_t restarts = 0;
  bool finished = false; ///< the job's shutdown was recorded after this actor's last record
};

struct run_summary {
  std::vector<actor_summary> actors;                ///< by node, role (aggregator, loader, trainer, others), actor
  std::vector<restart_event> restarts;              ///< by time
  double first_ts = 0, last_ts = 0;                 ///< over all records (0 when there are none)
  std::optional<double> finished_ts;                ///< when the job's end was recorded, if it was
  std::string finish_reason;                        ///< the finish event's reason ("done", ...), if any
  const record* last_evaluation = nullptr;          ///< latest aggregator evaluation record
  const record* last_aggregator_progress = nullptr; ///< latest aggregator progress record
  const record* last_checkpoint = nullptr;          ///< latest "checkpoint" event
  const record* finish = nullptr;                   ///< the aggregator's "finish" event, if recorded
};

/// An aggregator's periodic progress record (not an evaluation, not an event).
bool is_aggregator_progress(const record& r);
/// An aggregator's evaluation record (test_loss, test_acc, ...).
bool is_aggregator_evaluation(const record& r);

/// How late (seconds) an actor's last record may be after the shutdown record and still count as
/// finished: records of different machines carry their own clocks.
inline constexpr double finish_slack_s = 5.0;

/// Summarizes records (in read order: per file, line by line). The result points into `records`.
/// The job counts as finished when the aggregator's "finish" event or the loader's record (the
/// loader reports once, at shutdown) is seen.
run_summary summarize(const std::vector<record>& records);

/// The entry of trainer `actor` ("trainer-k") in the aggregator's latest clock_lag (clocks ahead of
/// the slowest trainer), or null when there is none (no progress record yet, not a trainer).
const nlohmann::json* clock_lag_of(const run_summary& s, const std::string& actor);

/// Late gradients of trainer `actor` dropped so far (job.backup_trainers): late_by_trainer of the
/// finish event, else of the aggregator's latest progress record; nothing when neither has it.
std::optional<double> late_dropped_of(const run_summary& s, const std::string& actor);

/// The rank k of an actor named "trainer-k", if it is one.
std::optional<std::size_t> trainer_rank(const std::string& actor);

/// "trainer-2" < "trainer-10": compares runs of digits as numbers.
bool natural_less(const std::string& a, const std::string& b);

} // namespace troupe::observe
