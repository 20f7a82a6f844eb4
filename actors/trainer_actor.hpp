#pragma once
/// The trainer actor: a model replica that turns batches into gradients.
///
///   [hello] --welcome + params--> [training] --last clock pushed--> [draining] --shutdown--> done
///   In [training], each clock: wait until the consistency model allows it (bsp: the round is
///   applied; ssp: clock <= slowest + s, reading the local copy meanwhile; asp: never wait),
///   take the next prefetched batch, forward/backward on its own threads, push the gradient,
///   return one credit to the loader.
/// It is a blocking actor (its own thread), so compute never runs on CAF's scheduler threads.

#include <cstddef>
#include <memory>

#include <caf/fwd.hpp>

#include "ps/slowdown.hpp"
#include "runtime/node_context.hpp"

namespace troupe::actors {

struct trainer_options {
  std::size_t rank = 0;
  std::size_t prefetch = 4;              ///< batches requested ahead of use (credits)
  double slow_factor = 1.0;              ///< test/benchmark hook: sleep so a step takes this many times longer
  ps::transient_slowdown transient_slow; ///< test/benchmark hook: some steps at random (seeded) slower
  std::int64_t fail_at_clock = -1; ///< test hook: throw when about to compute this clock, or after the last one when it
                                   ///< is the job's total (-1 = never)
  double failed_at = 0;            ///< wall time (s since the epoch) the previous incarnation failed; 0 = first start
  bool push_after_backward = false; ///< benchmark hook: no pushes during backward (run_options)
};

caf::actor spawn_trainer(caf::actor_system& sys, std::shared_ptr<const runtime::node_context> ctx, trainer_options o);

} // namespace troupe::actors
