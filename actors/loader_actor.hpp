#pragma once
/// The loader actor: owns the training split and feeds every trainer its shard, batch by batch,
/// only as far as the trainer has granted credits (bounded memory, no unbounded mailboxes).
/// With job.augment it augments each batch before sending it (ps::make_batch), so the trainers
/// receive finished images; a batch depends only on its samples and epoch, never on this actor's history.
///
///   [serving] --request_batches {rank, credits}--> sends up to `credits` batches to that rank
///   [serving] --balance_cuts {cuts} from the aggregator--> holds them (a checkpoint's), answers {held}
///   [serving] --shutdown | stop--> done

#include <cstdint>
#include <memory>
#include <vector>

#include <caf/fwd.hpp>

#include "ps/loader_core.hpp"
#include "runtime/node_context.hpp"

namespace troupe::actors {

/// `fail_after_requests` >= 0 is a test hook: the loader fails (exits with an error) when it
/// receives its (n+1)-th batch request, so its supervisor's in-process restart can be tested.
/// `replay`: cuts of the global batch to use instead of deciding them (a recorded run replayed).
caf::actor spawn_loader(caf::actor_system& sys, std::shared_ptr<const runtime::node_context> ctx,
                        std::int64_t fail_after_requests = -1, std::vector<ps::balance_cut> replay = {});

} // namespace troupe::actors
