#pragma once
/// Splits a data set's sample indices among replicas, epoch by epoch (PyTorch's DistributedSampler).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace troupe::data {

/// Gives each of num_replicas ranks its share of the sample indices for the current epoch.
///
/// Every rank builds the same epoch order: 0..dataset_size-1, shuffled when `shuffle` by
/// Fisher-Yates driven by troupe::rng(troupe::rng(seed).next() + epoch) through rng::below, so
/// the order for (seed, epoch) is identical on every rank, platform and compiler. Rank r then
/// takes positions r, r + num_replicas, r + 2 * num_replicas, ... of that order:
///
///   training (pad = true, drop_last = false): the order is extended by wrapping around to a
///     multiple of num_replicas, so every rank gets ceil(size / replicas) indices and a few
///     samples appear twice in the epoch (as in PyTorch);
///   drop_last = true: the order is cut to a multiple of num_replicas, every rank gets
///     floor(size / replicas) indices and up to num_replicas - 1 samples are skipped;
///   evaluation (pad = false): no padding and no cut; the shards are disjoint, their union is
///     the whole data set and their sizes differ by at most one.
class distributed_sampler {
public:
  /// Throws troupe::error unless num_replicas >= 1, rank < num_replicas and not (drop_last and !pad).
  distributed_sampler(std::size_t dataset_size, std::size_t num_replicas, std::size_t rank, bool shuffle = true,
                      std::uint64_t seed = 0, bool drop_last = false, bool pad = true);

  /// Selects the epoch whose order indices() returns; call it at the start of every epoch.
  void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }

  /// The epoch last passed to set_epoch (0 initially).
  std::uint64_t epoch() const { return epoch_; }

  /// This rank's sample indices for the current epoch, in the order to visit them.
  std::vector<std::size_t> indices() const;

  /// Number of indices this rank gets per epoch (the same for every epoch).
  std::size_t size() const;

private:
  /// The epoch order shared by all ranks: the identity, or its seeded permutation.
  std::vector<std::size_t> epoch_order() const;

  std::size_t dataset_size_;
  std::size_t num_replicas_;
  std::size_t rank_;
  bool shuffle_;
  std::uint64_t seed_;
  bool drop_last_;
  bool pad_;
  std::uint64_t epoch_ = 0;
};

} // namespace troupe::data
