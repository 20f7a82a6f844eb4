#pragma once
/// The loader's bookkeeping without the actor: one shard and one cursor per trainer per epoch.
///
/// Epoch e's shards come from data::distributed_sampler(pad = false): a seeded permutation
/// split round-robin across trainers, disjoint, covering every sample exactly once. Every
/// trainer gets the same number of steps per epoch, ⌈largest shard / batch⌉; a trainer whose
/// shard runs out first gets an empty batch for the remaining step(s), so BSP rounds stay
/// aligned. Batch k of all trainers together is exactly batch k of a one-process run with batch
/// N·b over the same permutation.

#include <cstdint>
#include <optional>
#include <vector>

namespace troupe::ps {

struct batch_plan {
  std::size_t epoch = 0;
  std::size_t step = 0;             ///< within the epoch
  std::vector<std::size_t> indices; ///< may be empty (a short shard's last step)
};

class loader_core {
public:
  loader_core(std::size_t dataset_size, std::size_t trainers, std::size_t batch_size, std::uint64_t seed,
              std::size_t epochs);

  std::size_t steps_per_epoch() const { return steps_per_epoch_; }
  std::size_t trainers() const { return cursors_.size(); }

  /// The next batch for `rank`, or nothing once its last epoch is delivered.
  std::optional<batch_plan> next(std::size_t rank);

  struct cursor {
    std::size_t epoch = 0, step = 0;
  };
  const cursor& position(std::size_t rank) const { return cursors_.at(rank); }
  /// Moves rank's cursor to its `clock`-th batch (epoch = clock / steps, step = clock % steps):
  /// a resumed trainer continues exactly where its checkpointed clock left off.
  void seek(std::size_t rank, std::uint64_t clock);

private:
  const std::vector<std::size_t>& shard(std::size_t rank, std::size_t epoch);

  std::size_t n_, batch_, epochs_, steps_per_epoch_;
  std::uint64_t seed_;
  std::vector<cursor> cursors_;
  // Shards are computed once per (rank, epoch) and kept while that rank is in that epoch.
  std::vector<std::size_t> shard_epoch_;
  std::vector<std::vector<std::size_t>> shards_;
};

} // namespace troupe::ps
