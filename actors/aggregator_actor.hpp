#pragma once
/// The aggregator actor: owns the master parameters and the optimizer (aggregator_core), answers
/// trainers, evaluates on the test split and saves the models.
///
///   [gathering] --hello from every rank--> [training] (welcome + params to all)
///   [training]  --push_gradient--> core.push(); params to every released trainer;
///               crossing an epoch: evaluate, save model_latest / model_best
///   [training]  --every clock pushed | stop--> final evaluation, model_final, shutdown to all --> done

#include <cstdint>
#include <memory>

#include <caf/fwd.hpp>

#include "runtime/node_context.hpp"

namespace troupe::actors {

/// `fail_at_version` >= 0 is a test hook: the aggregator fails (exits with an error) once it has
/// applied that version, so its supervisor's in-process restart can be tested.
caf::actor spawn_aggregator(caf::actor_system& sys, std::shared_ptr<const runtime::node_context> ctx,
                            std::int64_t fail_at_version = -1);

} // namespace troupe::actors
