#include "ps/part_census.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::ps {

namespace {

std::vector<std::uint64_t> sorted_unique(std::vector<std::uint64_t> steps) {
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

} // namespace

part_census::part_census(std::size_t shards, std::size_t self, std::vector<std::uint64_t> own_steps) : steps_(shards) {
  heard(self, std::move(own_steps));
}

void part_census::heard(std::size_t shard, std::vector<std::uint64_t> steps, bool running) {
  if (shard >= steps_.size())
    throw error(
        fmt::format("checkpoint parts of aggregator shard {}, but the job has {} shards", shard, steps_.size()));
  steps_[shard] = sorted_unique(std::move(steps));
  running_ = running_ || running;
}

std::vector<std::size_t> part_census::missing() const {
  std::vector<std::size_t> out;
  for (std::size_t s = 0; s < steps_.size(); ++s)
    if (!steps_[s])
      out.push_back(s);
  return out;
}

std::optional<std::uint64_t> part_census::newest_common() const {
  std::optional<std::vector<std::uint64_t>> common;
  for (const auto& steps : steps_) {
    if (!steps)
      return std::nullopt;
    if (!common) {
      common = *steps;
      continue;
    }
    std::vector<std::uint64_t> both;
    std::set_intersection(common->begin(), common->end(), steps->begin(), steps->end(), std::back_inserter(both));
    common = std::move(both);
  }
  if (!common || common->empty())
    return std::nullopt;
  return common->back();
}

} // namespace troupe::ps
