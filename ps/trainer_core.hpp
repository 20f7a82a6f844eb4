#pragma once
/// The trainer's logic without the actor: its clock, the parameters it reads, the batches it has
/// been sent (keyed by clock), the consistency gate and the credits it owes the loader.
///
///   [hello] --welcome--> [training] --last clock pushed--> [finished]
///   A later welcome re-syncs: the (possibly restarted, rewound) aggregator names the clock to
///   continue from and sends its parameters; batches before that clock are dropped and the loader
///   is asked again from there. Batch requests name their clocks, so they are idempotent and a
///   restarted loader needs none of the trainer's state.
///
/// With job.compression the core also holds the residual of error feedback (ps/compression.hpp):
/// the part of its gradients no push has carried yet. It is the only trainer state that is not
/// derived from the aggregator's, and it is not checkpointed (nothing of a trainer is): a new
/// incarnation (a restarted trainer, a resumed run) starts with an empty residual, and a re-sync
/// that moves the clock drops it (the history it came from was rewound or skipped). Both are
/// reported in resync_result so the actor can record them.
///
/// Sharded aggregators (ps/shard_plan.hpp): every shard welcomes the trainer and sends parameters
/// for its own range, each with its own version and slowest clock. The trainer is welcomed once
/// every shard has welcomed it; the gate reads the slowest clock over all shards (the bound holds
/// per shard and globally); a push is cut into one push per shard (split()), each carrying the
/// version of that shard's range the gradient was computed at.
///
/// A restarted shard makes every shard rewind to a common checkpoint (ps::rewind) and welcome the
/// trainer again in a new, larger generation. From the first welcome of a new generation, the
/// trainer reads nothing from a shard until that shard has welcomed it in that generation too, and
/// computes nothing until every shard has: parameters from before the rewind never mix with
/// parameters after it.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "net/message.hpp"
#include "ps/compression.hpp"
#include "ps/consistency_gate.hpp"
#include "ps/protocol.hpp"
#include "ps/shard_plan.hpp"

namespace troupe::ps {

/// A batch received for a clock, kept with the message that holds its tensors.
struct pending_batch {
  std::shared_ptr<const net::message> msg;
  batch b;
};

class trainer_core {
public:
  /// `shards`: the aggregator shards' ranges of the parameters (empty: one aggregator).
  trainer_core(std::size_t rank, std::size_t params_size, std::size_t prefetch,
               const config::compression_spec& compression = {}, std::vector<shard_range> shards = {});

  /// What a welcome changed.
  struct resync_result {
    bool first = false;       ///< the first welcome: training may start
    bool clock_moved = false; ///< a re-sync moved the clock: batches were asked for again
    /// Error feedback only: the residual was dropped by a re-sync that moved the clock (its L2
    /// norm in residual_norm), or this is the first welcome of a trainer that continues a run
    /// past clock 0 with an empty residual (an earlier incarnation's residual is lost).
    bool residual_reset = false;
    double residual_norm = 0;
    /// The answer to a hello said at an earlier clock that would put the trainer back: ignored
    /// (only newer parameters in it are taken; welcome::answers_clock).
    bool stale = false;
  };
  /// Takes a welcome: the job's shape and gate, our clock and the parameters (of its shard's range).
  resync_result on_welcome(const welcome& w);
  /// Takes parameters; in asp they may overtake each other, so an older version is ignored
  /// (its slowest clock still counts).
  void on_params(const params_update& p);
  /// Keeps a batch for its clock; one for a clock already used, or a duplicate, is dropped (false).
  bool on_batch(std::shared_ptr<const net::message> msg);

  /// Every aggregator shard has welcomed this trainer.
  bool welcomed() const { return welcomed_count_ == shards_.size(); }
  /// Every clock of the job has been pushed.
  bool finished() const { return welcomed() && clock_ >= total_clocks(); }
  /// The gate lets this trainer compute its current clock.
  bool allowed() const { return in_step() && gate_.allows(clock_, min_clock()); }
  /// Every shard has welcomed this trainer in the newest generation (always, without rewinds).
  bool in_step() const;
  bool has_batch() const { return batches_.count(clock_) > 0; }
  /// Batches received for this or later clocks and not taken yet (the prefetch the loader filled).
  std::size_t prefetched() const { return batches_.size(); }
  /// Takes the batch of the current clock (has_batch() must hold).
  pending_batch take_batch();
  /// The push for the current clock's gradient (n samples, stats), then advances the clock. With
  /// compression the gradient plus the residual travels compressed (push::grad.packed) and the
  /// residual keeps what it did not carry.
  push complete_step(double loss_sum, std::size_t n, std::size_t correct1, std::size_t correct5,
                     std::shared_ptr<const std::vector<float>> grad);
  /// The push cut into one per aggregator shard: each views its range of the gradient (no copy)
  /// and carries the version of that range it read. One aggregator: the push itself.
  std::vector<push> split(push p) const;

  /// Overlapping pushes with backward (sharded aggregators, compression none): while the current
  /// clock's gradient is still being computed, the push of shard `shard`'s range, which must be
  /// final already; the same push split(complete_step(...)) would give for that shard. Call
  /// end_step() once every shard's part was taken.
  push early_part(std::size_t shard, double loss_sum, std::size_t n, std::size_t correct1, std::size_t correct5,
                  std::shared_ptr<const std::vector<float>> grad) const;
  /// Advances the clock after early_part() for every shard (complete_step() without a push).
  void end_step() { ++clock_; }
  /// Whether this trainer's pushes may leave during backward: several shards and no compression
  /// (error feedback compresses the whole gradient at once).
  bool pushes_early() const { return shards_.size() > 1 && !compressor_; }

  /// The request for the next `credits` batches not yet asked for (nothing once all are asked).
  std::optional<batch_request> request(std::size_t credits);
  /// Asks again from the current clock (the loader restarted, or a request was lost).
  std::optional<batch_request> request_again();
  /// The requests a re-sync needs, if any: call after on_welcome() returned clock_moved.
  std::optional<batch_request> pending_request();

  std::size_t rank() const { return rank_; }
  std::uint64_t clock() const { return clock_; }
  /// The oldest version of the parameters read (over the shards).
  std::uint64_t version() const;
  /// The slowest trainer's clock as the shards last said (the smallest over the shards).
  std::uint64_t min_clock() const;
  std::size_t shards() const { return shards_.size(); }
  std::uint64_t total_clocks() const { return steps_per_epoch_ * epochs_; }
  const consistency_gate& gate() const { return gate_; }
  const std::vector<float>& params() const { return params_; }
  /// The error-feedback compressor, when the job compresses pushes (null with compression none).
  const gradient_compressor* compressor() const { return compressor_ ? &*compressor_ : nullptr; }

private:
  /// The push of the current clock's whole gradient, uncompressed; the clock stays.
  push whole_push(double loss_sum, std::size_t n, std::size_t correct1, std::size_t correct5,
                  std::shared_ptr<const std::vector<float>> grad) const;
  /// Shard s's part of p: its range of the gradient (and of the packed form), its version read.
  push part_of(const push& p, std::size_t s) const;
  void take(std::size_t shard, const flat_f32& params, std::uint64_t version, std::uint64_t min_clock, bool force);

  /// What the trainer knows of one aggregator shard.
  struct shard_view {
    shard_range range;
    std::uint64_t version = 0, min_clock = 0;
    std::uint64_t generation = 0; ///< of its latest welcome
    bool welcomed = false, have_params = false;
  };

  std::size_t rank_, params_size_, prefetch_;
  consistency_gate gate_;
  std::uint64_t steps_per_epoch_ = 0, epochs_ = 0;
  std::uint64_t clock_ = 0, next_request_ = 0;
  std::vector<shard_view> shards_;
  std::size_t welcomed_count_ = 0;
  std::uint64_t generation_ = 0; ///< the newest generation a shard welcomed this trainer in
  bool owe_request_ = false;
  std::vector<float> params_;
  std::map<std::uint64_t, pending_batch> batches_;
  std::optional<gradient_compressor> compressor_;
};

} // namespace troupe::ps
