#include "ps/loader_core.hpp"

#include <algorithm>
#include <limits>

#include "common/error.hpp"
#include "data/distributed_sampler.hpp"

namespace troupe::ps {

loader_core::loader_core(std::size_t dataset_size, std::size_t trainers, std::size_t batch_size, std::uint64_t seed,
                         std::size_t epochs)
    : n_(dataset_size), batch_(batch_size), epochs_(epochs), seed_(seed), cursors_(trainers),
      shard_epoch_(trainers, std::numeric_limits<std::size_t>::max()), shards_(trainers) {
  TROUPE_ENFORCE(trainers > 0 && batch_size > 0, "the loader needs trainers > 0 and batch size > 0");
  TROUPE_ENFORCE(dataset_size >= trainers, "{} samples cannot feed {} trainers", dataset_size, trainers);
  const std::size_t largest = (n_ + trainers - 1) / trainers;
  steps_per_epoch_ = (largest + batch_ - 1) / batch_;
}

const std::vector<std::size_t>& loader_core::shard(std::size_t rank, std::size_t epoch) {
  if (shard_epoch_[rank] != epoch) {
    data::distributed_sampler s(n_, cursors_.size(), rank, true, seed_, false, false);
    s.set_epoch(epoch);
    shards_[rank] = s.indices();
    shard_epoch_[rank] = epoch;
  }
  return shards_[rank];
}

std::optional<batch_plan> loader_core::next(std::size_t rank) {
  TROUPE_ENFORCE(rank < cursors_.size(), "trainer rank {} out of range ({} trainers)", rank, cursors_.size());
  cursor& c = cursors_[rank];
  if (c.epoch >= epochs_)
    return std::nullopt;
  const auto& s = shard(rank, c.epoch);
  batch_plan plan{c.epoch, c.step, {}};
  const std::size_t lo = std::min(c.step * batch_, s.size()), hi = std::min(lo + batch_, s.size());
  plan.indices.assign(s.begin() + static_cast<std::ptrdiff_t>(lo), s.begin() + static_cast<std::ptrdiff_t>(hi));
  if (++c.step == steps_per_epoch_) {
    c.step = 0;
    ++c.epoch;
  }
  return plan;
}

void loader_core::seek(std::size_t rank, std::uint64_t clock) {
  TROUPE_ENFORCE(rank < cursors_.size(), "trainer rank {} out of range ({} trainers)", rank, cursors_.size());
  cursors_[rank] = {static_cast<std::size_t>(clock / steps_per_epoch_),
                    static_cast<std::size_t>(clock % steps_per_epoch_)};
}

} // namespace troupe::ps
