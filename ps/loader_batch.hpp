#pragma once
/// What the loader sends for a planned batch: the planned samples of the training split, augmented
/// when job.augment is on (data/augment.hpp), with their labels. Only the loader calls this; the
/// test split (the aggregator's evaluation) is never augmented.
///
/// A batch depends on (plan.epoch, plan.indices) and the job alone: the same clock planned twice, by
/// this loader or by a restarted one, is the same bytes, and a re-cut of the shares (balance by
/// speed) hands each sample to another trainer unchanged.

#include <cstdint>

#include "config/augment_spec.hpp"
#include "data/augment.hpp"
#include "data/dataset.hpp"
#include "ps/loader_core.hpp"
#include "ps/protocol.hpp"

namespace troupe::ps {

/// The augmentation of job.augment for images loaded with `norm`: the padding is the value a zero
/// pixel becomes under `norm`, so augmenting the loaded (normalized) images equals torchvision's
/// augment-then-normalize bit for bit.
data::augment_options loader_augment(const config::augment_spec& spec, const data::normalization& norm);

/// The batch message of `plan` (clock = epoch · steps_per_epoch + step): the images of
/// plan.indices from `train`, each augmented by its draws for (seed, plan.epoch), and their labels.
batch make_batch(const data::dataset& train, const batch_plan& plan, std::size_t steps_per_epoch,
                 const data::augment_options& augment, std::uint64_t seed);

} // namespace troupe::ps
