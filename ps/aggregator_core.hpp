#pragma once
/// The aggregator's logic without the actor: master parameters, the optimizer and the
/// consistency model (BSP / SSP / ASP), unit-tested on its own.
///
/// Clocks: a trainer's clock is the number of gradients it has pushed. A push carries the clock
/// it was computed at (0, 1, 2, ...) and the parameter version it read.
///   bsp — the gradients of clock c from all N trainers are averaged (weighted by samples) and
///         applied once; then every trainer may start clock c + 1 from the same parameters.
///         This is allreduce semantics: N trainers × batch b = one process with batch N·b.
///   ssp — each gradient is applied as it arrives, weighted 1/N (N pushes of a clock move the
///         parameters as far as one bsp step); a trainer may start clock c only while
///         c − min_clock ≤ s (s = staleness). ssp with s = 0 runs exactly as bsp.
///   asp — each gradient is applied as it arrives, weighted 1/N; nobody waits.
/// A push that repeats a (trainer, clock) already seen is ignored: applied at most once.
///
/// Non-finite gradients (refuse_nonfinite): a gradient holding any NaN or ±Inf is refused — not
/// applied, but its clock counts as pushed, exactly as an empty batch (n = 0) would: in bsp the
/// round completes with the other trainers' gradients (their sample-weighted mean), in ssp/asp
/// nothing is applied; either way the pusher is released as after any push (bsp: with the
/// round), and the parameters it gets owe nothing to the refused gradient. A trainer's refusals
/// in a row are counted; reaching `max_refused_in_a_row` sets `escalate`.
///
/// Membership: every trainer starts present. remove_trainer() (its node was declared lost)
/// takes it out of the slowest clock, of the end condition and, in bsp, of the round: a round
/// closes once every present trainer has pushed, and its update is the sample-weighted mean of
/// the gradients received for that clock (one received from a trainer before its loss counts).
/// An absent trainer's clock follows the rounds (as if it pushed empty batches), so a state
/// between rounds stays complete for checkpoints. readmit_trainer() makes it present again at
/// the clock it must continue from: the round being gathered (bsp; that round then waits for
/// it) or the slowest present trainer's clock (ssp/asp). ssp/asp weights stay 1/N.
///
/// Backup trainers (bsp, backup_trainers = b > 0; Chen et al. 2016, "Revisiting distributed
/// synchronous SGD"): a round closes as soon as max(1, P − b) of the P present trainers have
/// pushed its clock, and applies the sample-weighted mean of those gradients; only they are
/// released. A trainer whose push arrives after its clock's round closed is late: its gradient is
/// dropped (counted in late_dropped(), neither a duplicate nor a refusal, its samples lost to that
/// clock), and its clock moves to the round being gathered. If that is the clock after the one it
/// pushed it is released as after any push; if rounds closed meanwhile without it, it must be
/// re-synced (`resync`: told its new clock with the parameters). The gate then measures clocks
/// against the round being gathered (gate_clock()), so late trainers do not hold the others back;
/// min_clock() and done() still wait for the slowest present trainer's last push. b = 0 is plain
/// bsp, bit for bit.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ps/consistency_gate.hpp"
#include "ps/gradient_check.hpp"
#include "tensor/nn/flat_params.hpp"
#include "tensor/optim/lr_schedule.hpp"
#include "tensor/optim/optimizer.hpp"
#include "tensor/optim/optimizer_options.hpp"

namespace troupe::ps {

struct aggregator_options {
  consistency_gate gate; ///< bsp / ssp (+ staleness) / asp
  std::size_t trainers = 1;
  std::size_t steps_per_epoch = 1; ///< clocks per epoch (per trainer)
  std::size_t epochs = 1;
  optim::optimizer_options optimizer;
  optim::lr_schedule_options schedule;
  bool refuse_nonfinite = true;          ///< false: apply gradients unchecked
  std::size_t max_refused_in_a_row = 10; ///< refusals in a row from one trainer that set `escalate`
  std::size_t backup_trainers = 0;       ///< bsp: a round closes with the first P − b gradients (0: all)
  /// ssp/asp when the loader cuts each clock's global batch (job.balance: speed, elastic jobs): a
  /// push of n samples weighs n / global_batch, so one clock's pushes weigh 1 together however the
  /// batch was cut. 0: each push weighs 1/N (equal shards).
  std::size_t global_batch = 0;
};

/// What a push changed.
struct push_outcome {
  bool duplicate = false;            ///< already seen: nothing applied
  std::size_t applied = 0;           ///< optimizer steps taken by this push (0 or 1)
  std::vector<std::size_t> released; ///< trainers that may now start their next clock
  std::uint64_t staleness = 0;       ///< versions applied since the pushed gradient's parameters
  bool refused = false;              ///< the gradient held NaN/Inf and was not applied
  nonfinite_report nonfinite;        ///< where, when refused
  std::size_t refused_in_a_row = 0;  ///< this trainer's refusals in a row, including this one
  bool escalate = false;             ///< refused_in_a_row reached max_refused_in_a_row
  bool late = false;                 ///< backup trainers: its round had closed; dropped, not applied
  /// When late: the rounds [late_from, late_to) closed without this trainer (the one it pushed,
  /// and those it skips by a re-sync).
  std::uint64_t late_from = 0, late_to = 0;
  std::vector<std::size_t> resync; ///< trainers whose clock moved past the one they pushed: re-sync them
};

class aggregator_core {
public:
  aggregator_core(aggregator_options o, nn::param_layout layout, std::vector<float> params);

  /// Records rank's gradient (batch-mean over n samples; n = 0 marks an empty batch); throws
  /// troupe::error for an absent rank, a clock out of order or beyond the staleness bound.
  push_outcome push(std::size_t rank, std::uint64_t clock, std::uint64_t version_read, std::size_t n,
                    const float* grad);

  /// Whether rank may start computing at `clock` under the consistency model.
  bool may_start(std::size_t rank, std::uint64_t clock) const;

  const std::vector<float>& params() const { return params_; }
  /// Number of optimizer applications so far (the parameters' version).
  std::uint64_t version() const { return version_; }
  std::uint64_t clock_of(std::size_t rank) const { return clocks_.at(rank); }
  /// The slowest present trainer's clock (of all trainers when none is present).
  std::uint64_t min_clock() const;
  std::uint64_t max_clock() const;
  /// The clock the consistency gate measures trainers against: min_clock(), or with backup
  /// trainers the bsp round being gathered (late trainers do not hold the others back).
  std::uint64_t gate_clock() const;
  /// Late gradients dropped so far (backup trainers), in all and of one trainer.
  std::uint64_t late_dropped() const;
  std::uint64_t late_dropped(std::size_t rank) const { return late_dropped_.at(rank); }
  /// Every present trainer has pushed every clock of the job.
  bool done() const { return min_clock() >= total_clocks(); }
  std::uint64_t total_clocks() const { return o_.steps_per_epoch * o_.epochs; }
  /// Learning rate of the next optimizer application.
  float current_lr() const;
  const nn::param_layout& layout() const { return layout_; }
  const aggregator_options& options() const { return o_; }
  optim::optimizer& optimizer() { return *opt_; }

  /// Whether the state is complete on its own: no bsp round is half gathered (checkpoint now).
  bool at_round_boundary() const { return round_count_ == 0; }
  /// The per-trainer clocks (gradients pushed).
  const std::vector<std::uint64_t>& clocks() const { return clocks_; }

  /// Takes rank out of the job until readmitted (see Membership above); a bsp round that only
  /// waited for it completes here (`applied`, `released` as for a push). No-op if already absent.
  push_outcome remove_trainer(std::size_t rank);
  /// Makes rank present again and returns the clock it continues from. No-op if present.
  std::uint64_t readmit_trainer(std::size_t rank);
  bool present(std::size_t rank) const { return present_.at(rank); }
  std::size_t present_count() const;
  /// Refusals in a row of rank's latest gradients (0 after an accepted one).
  std::size_t refused_in_a_row(std::size_t rank) const { return refused_in_a_row_.at(rank); }
  /// Restores a checkpointed state: parameters, optimizer, version and clocks; throws troupe::error
  /// if the sizes do not match this job (another model or another number of trainers). With backup
  /// trainers every trainer continues at the round being gathered (a late one's stale clock would
  /// only be dropped).
  void restore(std::vector<float> params, const optim::optimizer_state& opt, std::uint64_t version,
               std::vector<std::uint64_t> clocks);

private:
  void apply(const float* grad, float scale);
  /// bsp: applies the round if every present trainer (with backup trainers: P − b of them) has
  /// pushed, and releases those that pushed.
  void close_round_if_complete(push_outcome& out);
  /// Backup trainers: a push for a clock whose round already closed.
  void drop_late(std::size_t rank, std::uint64_t clock, push_outcome& out);
  bool backups() const { return o_.backup_trainers > 0 && o_.gate.synchronous(); }
  /// ssp: trainers blocked on the bound that may start now that the slowest clock left `min_before`.
  void release_unblocked(std::uint64_t min_before, std::size_t except, push_outcome& out) const;

  aggregator_options o_;
  nn::param_layout layout_;
  std::vector<float> params_;
  std::unique_ptr<optim::optimizer> opt_;
  optim::lr_schedule schedule_;
  std::uint64_t version_ = 0;
  std::vector<std::uint64_t> clocks_; ///< pushes seen per trainer
  std::vector<bool> present_;         ///< false: removed (node lost) until readmitted
  std::vector<std::size_t> refused_in_a_row_;
  std::vector<std::uint64_t> late_dropped_; ///< backup trainers: late gradients dropped, per trainer
  // BSP round in progress (clock round_clock_): each rank's gradient and sample count (0: none
  // received, empty or refused), summed in rank order.
  std::uint64_t round_clock_ = 0;
  std::vector<float> round_sum_;
  std::vector<std::vector<float>> round_grads_;
  std::vector<std::size_t> round_n_;
  std::size_t round_count_ = 0;
  std::vector<float> scratch_;
};

} // namespace troupe::ps
