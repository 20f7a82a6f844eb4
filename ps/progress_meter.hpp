#pragma once
/// The aggregator's progress meter: what the trainers' pushes report since the last line (loss,
/// accuracy, samples), staleness and refusals over the run, when the next line is due, and the
/// line itself — the console text and the fields of the progress record. Time is passed in.

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "ps/aggregator_core.hpp"
#include "ps/protocol.hpp"

namespace troupe::ps {

/// "1:05:03", "4:07" or "12 s".
std::string format_duration(double seconds);

class progress_meter {
public:
  /// A push the core took: its staleness; and, unless it was refused, what it reports. A late
  /// push (backup trainers) counts nowhere here: the core counts it.
  void pushed(const push& p, const push_outcome& out);
  /// Training (re)starts at the slowest clock `clock` (for the ETA and the clock rate).
  void restart_at(std::uint64_t clock) { first_clock_ = last_clock_ = clock; }

  /// Whether a line is due at the core's slowest clock (every print_freq clocks, or `force`).
  bool due(const aggregator_core& core, std::size_t print_freq, bool force) const;

  struct line {
    std::string text;      ///< "Epoch: [1][ 100/938]  Time ..."
    nlohmann::json fields; ///< loss, acc, images_per_s, ..., refused (, late_dropped with backup trainers)
  };
  /// The line for the slowest clock now, `since_line_s` after the last one and `run_s` after
  /// (re)start; resets the sums.
  line take(const aggregator_core& core, double since_line_s, double run_s);

private:
  double loss_sum_ = 0;
  std::size_t samples_ = 0, correct1_ = 0, correct5_ = 0, pushes_ = 0;
  std::map<std::uint64_t, std::uint64_t> staleness_hist_; ///< over the run
  std::uint64_t refused_ = 0;                             ///< over the run
  std::uint64_t first_clock_ = 0, last_clock_ = 0;
};

/// A trainer's figures since its last progress record: loss, accuracy, the samples it was given
/// per clock (its share of the global batch), and the split of its time between computing,
/// waiting for parameters and waiting for batches. Time is passed in.
class trainer_meter {
public:
  /// One clock computed: `n` samples (its batch, or its cut with job.balance: speed) in `seconds`.
  void computed(double loss_sum, std::size_t n, std::size_t correct1, double seconds) {
    loss_sum_ += loss_sum;
    samples_ += n;
    correct1_ += correct1;
    compute_s_ += seconds;
    ++clocks_;
  }
  void waited_params(double seconds) { wait_params_s_ += seconds; }
  void waited_batch(double seconds) { wait_batch_s_ += seconds; }
  /// A push whose tensors (the gradient, compressed or not) take `bytes` on the wire.
  void pushed(std::uint64_t bytes) {
    push_bytes_ += bytes;
    ++pushes_;
  }
  /// The record's fields for a period of `wall_s` seconds: loss, acc, images_per_s (samples per
  /// second of compute), compute_s, wait_s (both waits), push_bytes (mean tensor bytes per push),
  /// share (samples per clock), wait_params_s, wait_batch_s, wall_s and the waits' fractions of
  /// wall_s (wait_params_frac, wait_batch_frac); resets the sums.
  nlohmann::json take(double wall_s);

private:
  double loss_sum_ = 0, compute_s_ = 0, wait_params_s_ = 0, wait_batch_s_ = 0;
  std::size_t samples_ = 0, correct1_ = 0, clocks_ = 0;
  std::uint64_t push_bytes_ = 0, pushes_ = 0;
};

} // namespace troupe::ps
