#pragma once
/// The consistency gate: when a trainer may compute clock c, given the slowest trainer's clock.
/// One definition for the aggregator (which releases trainers) and the trainer (which waits):
///   bsp — c ≤ slowest (every trainer computes clock c from the same parameters);
///   ssp — c ≤ slowest + s (ssp with s = 0 is bsp);
///   asp — always.
/// The mode itself is config::consistency, the one enum of the three modes.

#include <cstddef>
#include <cstdint>

#include "config/job_spec.hpp"

namespace troupe::ps {

struct consistency_gate {
  config::consistency mode = config::consistency::bsp;
  std::size_t staleness = 0; ///< ssp only

  /// Clocks a trainer may run ahead of the slowest one (0 for bsp; unbounded for asp).
  std::uint64_t bound() const { return mode == config::consistency::ssp ? staleness : 0; }
  /// Every clock's gradients are gathered and applied together (bsp, or ssp with s = 0).
  bool synchronous() const {
    return mode == config::consistency::bsp || (mode == config::consistency::ssp && staleness == 0);
  }
  /// Whether a trainer may compute `clock` while the slowest present trainer is at `slowest`.
  bool allows(std::uint64_t clock, std::uint64_t slowest) const {
    return mode == config::consistency::asp || clock <= slowest + bound();
  }
};

} // namespace troupe::ps
