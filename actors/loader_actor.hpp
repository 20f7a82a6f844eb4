#pragma once
/// The loader actor: owns the training split and feeds every trainer its shard, batch by batch,
/// only as far as the trainer has granted credits (bounded memory, no unbounded mailboxes).
///
///   [serving] --request_batches {rank, credits}--> sends up to `credits` batches to that rank
///   [serving] --shutdown | stop--> done

#include <memory>

#include <caf/fwd.hpp>

#include "actors/node_context.hpp"

namespace troupe::actors {

caf::actor spawn_loader(caf::actor_system& sys, std::shared_ptr<const node_context> ctx);

} // namespace troupe::actors
