#include "data/distributed_sampler.hpp"

#include <numeric>
#include <utility>

#include "common/error.hpp"
#include "common/rng.hpp"

namespace troupe::data {

distributed_sampler::distributed_sampler(std::size_t dataset_size, std::size_t num_replicas, std::size_t rank,
                                         bool shuffle, std::uint64_t seed, bool drop_last, bool pad)
    : dataset_size_(dataset_size), num_replicas_(num_replicas), rank_(rank), shuffle_(shuffle), seed_(seed),
      drop_last_(drop_last), pad_(pad) {
  TROUPE_ENFORCE(num_replicas >= 1, "distributed_sampler: num_replicas must be at least 1, got {}", num_replicas);
  TROUPE_ENFORCE(rank < num_replicas, "distributed_sampler: rank {} is out of range for {} replicas (expected 0 to {})",
                 rank, num_replicas, num_replicas - 1);
  TROUPE_ENFORCE(pad || !drop_last, "distributed_sampler: drop_last=true contradicts pad=false (evaluation mode, "
                                    "which keeps every sample exactly once); choose one");
}

std::size_t distributed_sampler::size() const {
  const std::size_t whole = dataset_size_ / num_replicas_;
  const std::size_t rest = dataset_size_ % num_replicas_;
  if (drop_last_)
    return whole;
  if (!pad_)
    return whole + (rank_ < rest ? 1 : 0);
  return whole + (rest > 0 ? 1 : 0);
}

std::vector<std::size_t> distributed_sampler::epoch_order() const {
  std::vector<std::size_t> order(dataset_size_);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!shuffle_ || order.size() < 2)
    return order;
  // Seed from (seed, epoch) without collisions between neighbouring pairs such as (0, 1) and
  // (1, 0); adding the epoch keeps consecutive epochs of one seed distinct.
  rng gen(rng(seed_).next() + epoch_);
  for (std::size_t i = order.size() - 1; i > 0; --i)
    std::swap(order[i], order[static_cast<std::size_t>(gen.below(i + 1))]);
  return order;
}

std::vector<std::size_t> distributed_sampler::indices() const {
  const std::vector<std::size_t> order = epoch_order();
  const std::size_t count = size();
  std::vector<std::size_t> mine;
  mine.reserve(count);
  // Position p of the padded order is order[p mod size]: padding wraps around as often as
  // needed (PyTorch repeats the list when the padding exceeds it, e.g. 2 samples on 5 ranks).
  for (std::size_t k = 0; k < count; ++k)
    mine.push_back(order[(rank_ + k * num_replicas_) % dataset_size_]);
  return mine;
}

} // namespace troupe::data
