#pragma once
/// The loader's bookkeeping without the actor: one shard and one cursor per trainer per epoch.
///
/// Epoch e's shards come from data::distributed_sampler(pad = false): a seeded permutation
/// split round-robin across trainers, disjoint, covering every sample exactly once. Every
/// trainer gets the same number of steps per epoch, ⌈largest shard / batch⌉; a trainer whose
/// shard runs out first gets an empty batch for the remaining step(s), so BSP rounds stay
/// aligned. Batch k of all trainers together is exactly batch k of a one-process run with batch
/// N·b over the same permutation.
///
/// Balance by speed (config::balance_spec, bsp): clock k's global batch is the same N·b samples,
/// positions [k·N·b, (k+1)·N·b) of the epoch's permutation, but it is cut into contiguous shares,
/// rank 0 first, proportional to each trainer's measured throughput (observe(); an exponential
/// average). The weights are fixed per period of `every_clocks` clocks, when the first batch of the
/// period is planned, so every trainer's share of a clock comes from the same cut; each share is
/// at least floor·b (a trainer never starves), and they add up to the chunk exactly: every sample
/// is still seen once per epoch.
///
/// Elastic jobs (balance_options::present, a free place for each trainer that has not joined):
/// every clock's global batch is cut the same way, among the present trainers only (by speed
/// with `speed`, else equally); a trainer that joins (join()) gets its share from the next period
/// decided after it joined, and an empty batch until then. The global batch stays N·b for N
/// places, so the clocks per epoch and what one clock averages do not depend on who is present.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace troupe::ps {

struct batch_plan {
  std::size_t epoch = 0;
  std::size_t step = 0;             ///< within the epoch
  std::vector<std::size_t> indices; ///< may be empty (a short shard's last step)
  std::size_t extra = 0;            ///< of them, at the end: owed samples of late rounds (loader_core::owe)
};

struct balance_options {
  bool speed = false;            ///< off: the round-robin shards above
  std::size_t every_clocks = 10; ///< the cut is fixed for this many clocks
  double floor = 0.25;           ///< least share, as a fraction of the batch size
  /// Weight of the newest step in the moving sums of samples and compute seconds whose ratio is a
  /// trainer's speed. A ratio of sums, not a mean of per-step speeds: a step's compute time on a
  /// shared 2-core machine varies by ±30 %, and averaging the ratios let the cut jitter by ±3 samples.
  double smoothing = 0.1;
  /// Elastic: which trainers are present at the start (false: a free place); empty: all are.
  std::vector<bool> present;
  /// Backup trainers (job.backup_trainers > 0) with `speed`: the shares of rounds that closed
  /// without their trainer (owe()) are handed to the other trainers' next batches instead of being
  /// lost to the epoch.
  bool keep_late = false;
};

/// A cut decided for a period: its first clock, the trainers' weights and the shares of a full chunk.
struct balance_cut {
  std::uint64_t from_clock = 0;
  std::vector<double> weights;     ///< samples/s per rank (1 before every rank was measured; 0: absent)
  std::vector<std::size_t> shares; ///< samples per rank of a full global batch (N·b)
};

/// The shares of `total` samples for `weights`: proportional to the weights, none below
/// `floor_share` (or an equal split, if that is smaller), in whole samples by largest remainders
/// (ties to the lower rank); they add up to `total`.
std::vector<std::size_t> cut_shares(std::size_t total, const std::vector<double>& weights, std::size_t floor_share);

class loader_core {
public:
  loader_core(std::size_t dataset_size, std::size_t trainers, std::size_t batch_size, std::uint64_t seed,
              std::size_t epochs, balance_options balance = {});

  /// Elastic: rank is present from the next period decided (a trainer took its free place).
  void join(std::size_t rank);
  bool present(std::size_t rank) const { return present_.at(rank); }

  /// A trainer computed `samples` in `compute_s` seconds (its latest batch): updates its throughput.
  void observe(std::size_t rank, std::size_t samples, double compute_s);
  /// The cuts decided since the last call (balance by speed), oldest first: for the records.
  std::vector<balance_cut> take_decided();

  /// Fixes the cuts of these periods (from a checkpoint, or a run being replayed): they are used
  /// as they are, whatever the speeds say, and are not reported as decided. Throws troupe::error
  /// naming the cut unless each starts a period and cuts a full global batch among this job's trainers.
  void hold(const std::vector<balance_cut>& cuts);

  std::size_t steps_per_epoch() const { return steps_per_epoch_; }
  std::size_t trainers() const { return cursors_.size(); }

  /// The next batch for `rank`, or nothing once its last epoch is delivered.
  std::optional<batch_plan> next(std::size_t rank);

  struct cursor {
    std::size_t epoch = 0, step = 0;
  };
  const cursor& position(std::size_t rank) const { return cursors_.at(rank); }
  /// Backup trainers (balance_options::keep_late): the rounds of clocks [from, to) closed without
  /// `rank` (its gradient came late, or it was re-synced past them). Their shares of rank's go to
  /// the queue the other trainers' next batches take from (at most half a batch each, or what is
  /// owed spread over the batches a trainer has left, at most two batches' worth; never back
  /// to `rank`). Returns the samples queued: none without keep_late, for clocks already owed, or
  /// past the last epoch.
  std::size_t owe(std::size_t rank, std::uint64_t from, std::uint64_t to);
  /// Samples queued by owe() so far, and those handed out in batches since.
  std::size_t owed_samples() const { return owed_total_; }
  std::size_t owed_served() const { return owed_served_; }
  /// Moves rank's cursor to its `clock`-th batch (epoch = clock / steps, step = clock % steps):
  /// a resumed trainer continues exactly where its checkpointed clock left off.
  void seek(std::size_t rank, std::uint64_t clock);

private:
  const std::vector<std::size_t>& shard(std::size_t rank, std::size_t epoch);
  /// Balance by speed: rank's slice of the global batch at (epoch, step).
  std::vector<std::size_t> balanced(std::size_t rank, const cursor& c);
  const std::vector<std::size_t>& order(std::size_t epoch);
  const balance_cut& cut_for(std::uint64_t clock);
  /// The clock of the batch the furthest-behind cursor plans next.
  std::uint64_t slowest_clock() const;

  std::size_t n_, batch_, epochs_, steps_per_epoch_;
  std::uint64_t seed_;
  std::vector<cursor> cursors_;
  // Shards are computed once per (rank, epoch) and kept while that rank is in that epoch.
  std::vector<std::size_t> shard_epoch_;
  std::vector<std::vector<std::size_t>> shards_;
  balance_options balance_;
  bool cutting_ = false;      ///< cut the global batch (balance by speed, or elastic)
  std::vector<bool> present_; ///< elastic: who shares the next cuts
  struct rate {
    double samples = 0, seconds = 0; ///< moving sums (balance_options::smoothing)
    double per_second() const { return seconds > 0 ? samples / seconds : 0.0; }
  };
  std::vector<rate> speed_;                   ///< per rank; 0 s until measured
  std::map<std::uint64_t, balance_cut> cuts_; ///< by period
  std::map<std::uint64_t, balance_cut> held_; ///< by period: hold(), never re-decided
  std::vector<balance_cut> decided_;
  struct owed_sample {
    std::size_t index, from_rank;
  };
  std::deque<owed_sample> owed_; ///< keep_late: shares of rounds closed without their rank
  std::set<std::pair<std::size_t, std::uint64_t>> owed_clocks_; ///< (rank, clock) already owed
  std::size_t owed_total_ = 0, owed_served_ = 0;
  std::map<std::size_t, std::vector<std::size_t>> orders_; ///< epoch -> permutation, for epochs in use
};

} // namespace troupe::ps
