#pragma once
/// The aggregator actor: owns the master parameters and the optimizer (aggregator_core), answers
/// trainers, evaluates on the test split and saves the models.
///
///   [gathering] --hello from every rank--> [training] (welcome + params to all)
///   [training]  --push_gradient--> core.push(); params to every released trainer;
///               crossing an epoch: evaluate, save model_latest / model_best
///   [training]  --every clock pushed | stop--> final evaluation, model_final, shutdown to all --> done
///
/// Sharded (ps/shard_plan.hpp, docs/sharding.md): one such actor per shard, each over its range of
/// the parameters. Shard 0 ("aggregator") keeps every duty above; shard s > 0 ("aggregator-s")
/// welcomes trainers, applies its range of their pushes and sends that range back, and sends its
/// range to shard 0 at evaluation points and at the end, where shard 0 assembles whole models.
///   shard s > 0: [gathering] --hello from every rank--> [training] --every clock pushed-->
///                final range to shard 0 --> [done] --shutdown from shard 0--> exit

#include <cstdint>
#include <memory>

#include <caf/fwd.hpp>

#include "runtime/node_context.hpp"

namespace troupe::actors {

/// `shard`: which aggregator shard (0 unless sharded). `fail_at_version` >= 0 is a test hook: the
/// aggregator fails (exits with an error) once it has applied that version, so its supervisor's
/// in-process restart can be tested. `failed_at` > 0: this start is a restart after a failure.
caf::actor spawn_aggregator(caf::actor_system& sys, std::shared_ptr<const runtime::node_context> ctx,
                            std::size_t shard = 0, std::int64_t fail_at_version = -1, double failed_at = 0);

} // namespace troupe::actors
