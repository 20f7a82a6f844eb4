#include "ps/shard_plan.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"
#include "ps/protocol.hpp"

namespace troupe::ps {

std::vector<shard_range> plan_shards(std::size_t total, std::size_t shards) {
  TROUPE_ENFORCE(shards >= 1 && shards <= total, "{} aggregator shards for {} parameters (need 1 <= shards <= {})",
                 shards, total, total);
  std::vector<shard_range> out;
  out.reserve(shards);
  const std::size_t base = total / shards, extra = total % shards;
  std::size_t begin = 0;
  for (std::size_t s = 0; s < shards; ++s) {
    const std::size_t size = base + (s < extra ? 1 : 0);
    out.push_back({begin, begin + size});
    begin += size;
  }
  return out;
}

nn::param_layout slice_layout(const nn::param_layout& layout, shard_range r) {
  TROUPE_ENFORCE(r.begin <= r.end && r.end <= layout.total, "range [{}, {}) outside a layout of {} floats", r.begin,
                 r.end, layout.total);
  nn::param_layout out;
  for (const auto& e : layout.entries) {
    const std::size_t b = std::max(e.offset, r.begin), end = std::min(e.offset + e.size, r.end);
    if (b >= end)
      continue;
    nn::param_entry part;
    const bool whole = b == e.offset && end == e.offset + e.size;
    part.name = whole ? e.name : fmt::format("{}[{}:{}]", e.name, b - e.offset, end - e.offset);
    part.shape = whole ? e.shape : tensor::shape_t{end - b};
    part.offset = b - r.begin;
    part.size = end - b;
    part.buffer = e.buffer;
    out.entries.push_back(std::move(part));
  }
  out.total = r.size();
  out.params = std::min(std::max(layout.params, r.begin), r.end) - r.begin;
  return out;
}

std::string aggregator_shard_name(std::size_t shard) {
  return shard == 0 ? aggregator_name : fmt::format("{}-{}", aggregator_name, shard);
}

} // namespace troupe::ps
