#pragma once
/// The aggregator actor's state and the plain functions its handlers delegate to, split by
/// concern: evaluation and progress (aggregator_progress.cpp), checkpoints and resume
/// (aggregator_checkpoint.cpp), refused gradients and membership (aggregator_faults.cpp).
/// Internal to actors/.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "ps/aggregator_core.hpp"
#include "ps/liveness.hpp"
#include "ps/part_census.hpp"
#include "ps/progress_meter.hpp"
#include "ps/protocol.hpp"
#include "ps/shard_plan.hpp"
#include "runtime/metrics_actor.hpp"
#include "runtime/node_context.hpp"
#include "runtime/span_log.hpp"
#include "train/checkpoint_store.hpp"
#include "train/gradient_engine.hpp"

namespace troupe::actors {

using agg_clock = std::chrono::steady_clock;
using ps::aggregator_core;
using ps::aggregator_name;
using ps::loader_name;
using ps::push_outcome;
using ps::trainer_name;
using runtime::gradient_id;
using runtime::make_record;
using runtime::span_log;

/// Shard 0 of a sharded aggregator: the whole parameter vector of one point of the run, gathered
/// from every shard's range.
struct assembly {
  std::vector<float> params; ///< the whole vector (the model's layout)
  std::vector<bool> got;     ///< per shard: its range is in
  std::size_t epoch = 0;     ///< the epoch label of an evaluation (set by shard 0's own range)
  std::uint64_t version = 0; ///< shard 0's version at that point
  bool complete() const {    // nothing in yet is not complete
    return !got.empty() && std::all_of(got.begin(), got.end(), [](bool b) { return b; });
  }
};

struct aggregator_state {
  std::shared_ptr<const runtime::node_context> ctx;
  std::size_t shard = 0;                         ///< which aggregator shard this is (ps/shard_plan.hpp)
  std::vector<ps::shard_range> ranges;           ///< every shard's range (one: not sharded)
  nn::param_layout full_layout;                  ///< the whole model's layout (the core holds this shard's part)
  std::map<std::uint64_t, assembly> evaluations; ///< shard 0, sharded: evaluation points by slowest clock
  assembly final_params;                         ///< shard 0, sharded: every shard's final range
  bool awaiting_final = false;                   ///< shard 0, sharded: its own range is done, waiting for the others'
  double failed_at = 0;                          ///< > 0: this incarnation replaces a failed one
  agg_clock::time_point awaiting_since{};        ///< shard 0, sharded: when its own range was done
  agg_clock::time_point heard_coordinator = agg_clock::now(); ///< shard s > 0: the last word from shard 0's node
  agg_clock::time_point heard_anyone = agg_clock::now();      ///< the last message from anyone (not a timer)
  std::uint64_t generation = 0;     ///< sharded: the latest rewind this shard followed (ps::rewind)
  std::vector<float> initial_range; ///< sharded: this shard's initial parameters (a rewind to step 0)
  /// Sharded, while (re)starting: which checkpoint steps the shards hold (ps::part_census); the
  /// shard neither starts nor takes pushes until every shard has answered.
  std::optional<ps::part_census> census;
  agg_clock::time_point census_since{};           ///< when the census began (bounded by aggregator_gone_after_s)
  agg_clock::time_point census_asked{};           ///< when the missing shards were last asked (once a second)
  std::optional<ps::rewind> census_rewind;        ///< a rewind that arrived during the census, followed after it
  std::int64_t fail_at_version = -1;              ///< test hook: >= 0 fails the actor once this version is applied
  std::unique_ptr<train::gradient_engine> engine; ///< evaluation only
  std::unique_ptr<aggregator_core> core;
  data::dataset test;
  std::set<std::size_t> hello_from;
  /// on_trainer_loss: shrink — trainers out of the job when the checkpoint resumed from was taken:
  /// the resumed job does not wait for them, and readmits them when they say hello.
  std::set<std::size_t> absent_at_resume;
  bool started = false, finished = false;
  bool loader_ready = false; ///< the loader (of this job) said hello
  /// Shard 0, job.balance / elastic: the loader's cuts of the global batch still in use (by first
  /// clock): kept in checkpoints and given back to a (re)started loader, which holds them before
  /// the job starts, so a resumed run cuts its clocks as the interrupted one did.
  std::map<std::uint64_t, ps::balance_cut> balance_cuts;
  std::shared_ptr<const std::vector<float>> snapshot;    ///< params of `snapshot_version`, shared by all sends
  std::shared_ptr<const ps::packed_f32> packed_snapshot; ///< the snapshot as 16-bit floats (job.compression)
  std::uint64_t snapshot_version = ~std::uint64_t{0};
  std::size_t evaluated_epochs = 0;
  std::uint64_t next_step_eval = 0; ///< min clock of the next step-based evaluation
  double best_top1 = -1;
  ps::progress_meter meter; ///< progress since the last line
  std::unique_ptr<train::checkpoint_store> store;
  std::unique_ptr<ps::liveness> alive; ///< who was heard from lately, who is declared lost
  std::uint64_t refused_unauthorized = 0, refused_other_job = 0;
  std::set<std::string> other_job_logged; ///< nodes of another job, refused (logged once each)
  span_log spans;
  std::string write_failure; ///< checkpoint.on_write_error: stop — the failed write that ends the job
  std::string start_failure; ///< sharded: why the resume after the census failed (ends the job)
  std::uint64_t last_checkpoint_version = 0;
  agg_clock::time_point last_checkpoint_at = agg_clock::now();
  agg_clock::time_point started_at = agg_clock::now(), last_line_at = agg_clock::now();
  agg_clock::time_point created_at = agg_clock::now(); ///< the job must start within the idle limit of this
};

/// Where models and checkpoints go (checkpoint.dir).
std::filesystem::path checkpoint_dir(const aggregator_state& st);

/// Where shard `shard` keeps its checkpoint parts: checkpoint.dir itself when not sharded, else
/// its subdirectory shard-<s>.
std::filesystem::path shard_checkpoint_dir(const aggregator_state& st, std::size_t shard);

/// Runs `write` (of the file or directory `path`); a failure is reported as a write_failed event
/// and on stderr, and under checkpoint.on_write_error: stop noted in st.write_failure. False then.
bool written(aggregator_state& st, const std::string& path, const std::function<void()>& write);

/// Writes the whole parameter vector `params` as a model file `file` in the checkpoint directory (written()).
void save(aggregator_state& st, const std::string& file, const nlohmann::json& info, const std::vector<float>& params);

/// Evaluates the whole parameter vector `params` (of slowest clock `clock`) on the test split,
/// reports it, and keeps model_latest / model_best.
void evaluate(aggregator_state& st, std::size_t epoch, const std::vector<float>& params, std::uint64_t clock);

/// The progress line and record every print_freq clocks of the slowest trainer (or now, if forced).
void progress(aggregator_state& st, bool force);

/// Notes that `node` is alive (any message counts); reports it back if it had been declared lost
/// and returns true then.
bool heard_from(aggregator_state& st, const std::string& node);

/// Declares trainer nodes silent for more than cluster.failure_timeout_s lost (once each, as a
/// "peer_lost" event naming the node and its trainers) and returns the nodes declared now. A
/// node's runtime sends heartbeats independently of its trainers' compute, so a slow trainer is
/// never mistaken for a gone one.
std::vector<std::string> check_liveness(aggregator_state& st);

/// Shard 0 with job.on_trainer_loss: wait, every tick: a trainer node silent for longer than
/// cluster.trainer_gone_after_s (declared lost, and not back) ends the job in failure instead of
/// holding every other trainer forever. Returns the reason naming it and its trainers, or nothing.
std::optional<std::string> trainer_gone(aggregator_state& st);

/// The "gradient_refused" event and stderr line for a push the core refused (aggregator_faults.cpp).
void report_refusal(aggregator_state& st, std::size_t rank, std::uint64_t clock, const push_outcome& out);

/// on_trainer_loss: shrink — takes the trainers of lost `node` out of the job (a "membership"
/// event) and returns what that changed; nothing when the policy is wait, the job has not started
/// or has finished, or the node has no present trainer.
std::optional<push_outcome> drop_trainers_of(aggregator_state& st, const std::string& node);

/// Whether trainer `rank` runs on a free place of an elastic job (a node with endpoint: later).
bool joins_later(const aggregator_state& st, std::size_t rank);
/// Whether the aggregator can send to trainer `rank`: not a free place nobody has taken yet.
inline bool reachable(const aggregator_state& st, std::size_t rank) {
  return st.hello_from.count(rank) > 0 || !joins_later(st, rank);
}
/// Whether the start waits for trainer `rank`'s hello: not for a free place nobody has taken
/// (elastic), nor for a trainer that was out of the job in the checkpoint resumed from (shrink).
inline bool awaited_at_start(const aggregator_state& st, std::size_t rank) {
  return !joins_later(st, rank) && st.absent_at_resume.count(rank) == 0;
}
/// At the start, the trainers the start did not wait for and that have not said hello leave the
/// job (a "membership" event) until they say hello: free places until a trainer process takes
/// them, trainers absent in the checkpoint until they come back.
void leave_free_places(aggregator_state& st);
/// on_trainer_loss: shrink — readmits the absent trainers of returning `node` (a "membership"
/// event) and returns their ranks, each to be welcomed at its clock.
std::vector<std::size_t> readmit_trainers_of(aggregator_state& st, const std::string& node);

/// Sharded aggregators (aggregator_shards.cpp, docs/sharding.md): more than one shard.
bool sharded(const aggregator_state& st);

/// The parameters to send (this shard's range), made once per version and shared by every message
/// of it: f32, or with job.compression fp16 / bf16 rounded from the 32-bit master copy.
ps::flat_f32 params_of(aggregator_state& st);

/// The whole parameter vector at the end: the core's own, or (sharded) every shard's final range;
/// null when one is missing (the job ended before that shard finished).
const std::vector<float>* final_whole(const aggregator_state& st);

/// An evaluation is due at the slowest clock reached now (`epoch` labels it): evaluated at once
/// with one aggregator; sharded, shard s > 0 sends its range of this point to shard 0, which
/// evaluates once every range of the point is in.
void evaluation_point(aggregator_state& st, std::size_t epoch);

/// This shard has applied every clock of the job; true when the job may end now. Sharded: shard
/// s > 0 sends its final range to shard 0 (and writes its last checkpoint part) and waits for
/// shard 0's shutdown; shard 0 waits until every shard's final range is in.
bool shard_done(aggregator_state& st);

/// Sharded, every tick: a shard whose partner stays silent past cluster.aggregator_gone_after_s() ends
/// its part of the job in failure instead of waiting forever. Shard 0 watches every other shard's
/// node (declared lost, then silent that long); shard s > 0 watches shard 0's node. Returns the
/// reason, or nothing while everyone is there (docs/sharding.md, "A lost shard node").
std::optional<std::string> shard_gone(aggregator_state& st);

/// Shard 0: another shard's range (an evaluation point's, or its final one); true when it was
/// the last final range shard 0 waited for. Throws troupe::error for a range from a node that
/// does not host that shard.
bool take_shard_report(aggregator_state& st, const net::message& m);

/// Reports the spans collected since the last report as one "spans" event record.
void report_spans(aggregator_state& st);

/// The complete training state, for a checkpoint.
train::training_state checkpoint_state(const aggregator_state& st);

/// Writes a checkpoint now and reports its stall.
void save_checkpoint(aggregator_state& st);

/// Periodic checkpoints, only between bsp rounds (a half-gathered round is not in the state).
void maybe_checkpoint(aggregator_state& st);

/// Sharded: puts this shard back at checkpoint step `step` (0: the initial parameters) and resets
/// what depends on the clocks (evaluations in flight, the final assembly, progress); throws
/// troupe::error if this shard has no readable part at that step.
void rewind_to(aggregator_state& st, std::uint64_t step);

/// Sharded: removes this shard's checkpoint parts newer than `step`, where every shard went back
/// to: they belong to a timeline the job abandoned, and must not pair with another shard's part of
/// the same step written after the rewind.
void drop_parts_after(aggregator_state& st, std::uint64_t step);

/// Continues the run in the checkpoint directory if it holds one (automatic resume); a finished
/// run's checkpoints are cleared so that running the same command again trains anew. Sharded,
/// `common` is the newest step every shard holds (ps::part_census): this shard resumes from its
/// part at exactly that step (nothing: from the initial parameters).
void resume_if_possible(aggregator_state& st, std::optional<std::uint64_t> common = std::nullopt);

} // namespace troupe::actors
