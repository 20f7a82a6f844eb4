#pragma once
/// How K aggregator shards split the flat parameter vector (ps-lite / BytePS style): shard s owns
/// the contiguous range [begin, end) with its master copy, optimizer state, consistency gate and
/// checkpoint part. Ranges are byte-balanced: every parameter is one f32, so their sizes differ
/// by at most one float, whatever the layers — a range may cut a layer's tensor in two.
///
/// Shard 0 keeps the name "aggregator" (and every duty of a single aggregator: the loader, the
/// job's start and end, evaluation, progress, model files); shard s > 0 is "aggregator-s".

#include <cstddef>
#include <string>
#include <vector>

#include "tensor/nn/flat_params.hpp"

namespace troupe::ps {

struct shard_range {
  std::size_t begin = 0, end = 0; ///< floats of the flat vector, [begin, end)
  std::size_t size() const { return end - begin; }
  friend bool operator==(const shard_range& a, const shard_range& b) { return a.begin == b.begin && a.end == b.end; }
};

/// K contiguous ranges covering [0, total), the first total % K of them one float longer; throws
/// troupe::error unless 1 <= K <= total.
std::vector<shard_range> plan_shards(std::size_t total, std::size_t shards);

/// The part of `layout` inside `r`, offsets rebased to r.begin. A tensor cut by the range keeps
/// its name with the range it holds ("3.weight[0:1200]") and a flat shape, so a shard's optimizer
/// state and checkpoint part say exactly which floats they are.
nn::param_layout slice_layout(const nn::param_layout& layout, shard_range r);

/// "aggregator" for shard 0, "aggregator-<s>" for the others.
std::string aggregator_shard_name(std::size_t shard);

} // namespace troupe::ps
