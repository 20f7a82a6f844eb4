#pragma once
/// The straggler hooks of tests and benchmarks: how many times longer a trainer's step is made.
///   persistent — every step of the trainer `factor` times longer (--slow-trainer RANK=FACTOR);
///   transient  — each step, independently, with probability `fraction`, `transient_factor` times
///                longer (--transient-slow FRACTION=FACTOR), as on a shared cluster. Which steps
///                are slow is a pure function of (seed, rank, clock): every run, and every
///                consistency mode, sees the same slow steps.
/// Both multiply. The trainer sleeps (factor − 1) × its real compute time.

#include <cstddef>
#include <cstdint>
#include <string>

namespace troupe::ps {

/// --transient-slow: a `fraction` of the steps, drawn with `seed`, `factor` times longer.
struct transient_slowdown {
  double fraction = 0; ///< in [0, 1]; 0: off
  double factor = 1;   ///< >= 1
  std::uint64_t seed = 0;
};

struct slowdown {
  double factor = 1; ///< persistent (>= 1)
  transient_slowdown transient;

  /// How many times longer rank's step at `clock` is made.
  double factor_at(std::size_t rank, std::uint64_t clock) const;
};

/// Whether rank's step at `clock` is one of the transient slow ones: a uniform draw in [0, 1)
/// from (seed, rank, clock) below `fraction`.
bool transient_hit(const transient_slowdown& t, std::size_t rank, std::uint64_t clock);

/// `--transient-slow FRACTION=FACTOR` (e.g. 0.1=5): 0 < FRACTION <= 1, FACTOR >= 1; throws
/// troupe::error naming the flag and the expected form otherwise.
transient_slowdown parse_transient_slowdown(const std::string& text);

} // namespace troupe::ps
