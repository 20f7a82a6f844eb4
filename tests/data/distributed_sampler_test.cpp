#include "data/distributed_sampler.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include <catch2/catch.hpp>

#include "common/error.hpp"

using Catch::Contains;
using namespace troupe::data;

namespace {

using index_list = std::vector<std::size_t>;

/// Every rank's indices for one configuration and epoch.
std::vector<index_list> all_shards(std::size_t size, std::size_t replicas, bool shuffle, std::uint64_t seed,
                                   std::uint64_t epoch, bool drop_last, bool pad) {
  std::vector<index_list> shards;
  for (std::size_t r = 0; r < replicas; ++r) {
    distributed_sampler s(size, replicas, r, shuffle, seed, drop_last, pad);
    s.set_epoch(epoch);
    shards.push_back(s.indices());
    REQUIRE(s.size() == shards.back().size());
  }
  return shards;
}

/// The epoch order the shards were cut from: position rank + k * replicas of shard `rank`.
index_list interleave(const std::vector<index_list>& shards) {
  index_list order;
  for (std::size_t k = 0;; ++k) {
    for (const auto& shard : shards) {
      if (k >= shard.size())
        return order;
      order.push_back(shard[k]);
    }
  }
}

index_list iota_list(std::size_t n) {
  index_list v(n);
  std::iota(v.begin(), v.end(), std::size_t{0});
  return v;
}

} // namespace

TEST_CASE("distributed_sampler in evaluation mode partitions the data set", "[data][sampler]") {
  const std::size_t size = GENERATE(0, 1, 2, 5, 10, 11, 100, 101);
  const std::size_t replicas = GENERATE(1, 2, 3, 4, 7, 16);
  const bool shuffle = GENERATE(false, true);
  CAPTURE(size, replicas, shuffle);
  const auto shards = all_shards(size, replicas, shuffle, 42, 3, false, false);

  index_list all;
  std::size_t smallest = size, largest = 0;
  for (const auto& shard : shards) {
    all.insert(all.end(), shard.begin(), shard.end());
    smallest = std::min(smallest, shard.size());
    largest = std::max(largest, shard.size());
  }
  std::sort(all.begin(), all.end());
  CHECK(all == iota_list(size)); // disjoint, nothing missing, nothing duplicated
  CHECK(largest - smallest <= 1);
}

TEST_CASE("distributed_sampler in training mode pads every rank to ceil(size / replicas)", "[data][sampler]") {
  const std::size_t size = GENERATE(1, 2, 5, 10, 11, 100, 101);
  const std::size_t replicas = GENERATE(1, 2, 3, 4, 7, 16);
  const bool shuffle = GENERATE(false, true);
  CAPTURE(size, replicas, shuffle);
  const auto shards = all_shards(size, replicas, shuffle, 7, 1, false, true);

  const std::size_t per_rank = (size + replicas - 1) / replicas;
  std::map<std::size_t, std::size_t> seen;
  for (const auto& shard : shards) {
    CHECK(shard.size() == per_rank);
    for (const auto i : shard)
      ++seen[i];
  }
  CHECK(seen.size() == size); // every sample is visited
  CHECK(seen.rbegin()->first == size - 1);
  // The padding repeats the start of the epoch order, so no sample appears more than
  // ceil(total / size) times.
  const std::size_t total = per_rank * replicas;
  for (const auto& [index, times] : seen)
    CHECK(times <= (total + size - 1) / size);
}

TEST_CASE("distributed_sampler pads like PyTorch by wrapping around the order", "[data][sampler]") {
  SECTION("10 samples on 4 ranks: the order is extended by 0 and 1") {
    const auto shards = all_shards(10, 4, false, 0, 0, false, true);
    CHECK(shards[0] == index_list{0, 4, 8});
    CHECK(shards[1] == index_list{1, 5, 9});
    CHECK(shards[2] == index_list{2, 6, 0});
    CHECK(shards[3] == index_list{3, 7, 1});
  }
  SECTION("2 samples on 5 ranks: the order is repeated as often as needed") {
    const auto shards = all_shards(2, 5, false, 0, 0, false, true);
    CHECK(interleave(shards) == index_list{0, 1, 0, 1, 0});
  }
}

TEST_CASE("distributed_sampler with drop_last cuts the order to equal shards", "[data][sampler]") {
  SECTION("10 samples on 4 ranks") {
    const auto shards = all_shards(10, 4, false, 0, 0, true, true);
    CHECK(shards[0] == index_list{0, 4});
    CHECK(shards[1] == index_list{1, 5});
    CHECK(shards[2] == index_list{2, 6});
    CHECK(shards[3] == index_list{3, 7});
  }
  SECTION("shuffled, any size") {
    const std::size_t size = GENERATE(0, 3, 10, 11, 101);
    const std::size_t replicas = GENERATE(1, 3, 4, 16);
    CAPTURE(size, replicas);
    const auto shards = all_shards(size, replicas, true, 5, 2, true, true);
    index_list all;
    for (const auto& shard : shards) {
      CHECK(shard.size() == size / replicas);
      all.insert(all.end(), shard.begin(), shard.end());
    }
    std::sort(all.begin(), all.end());
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end()); // no duplicates
  }
}

TEST_CASE("distributed_sampler ranks agree on one permutation per seed and epoch", "[data][sampler]") {
  const std::size_t size = 97, replicas = 4;
  const auto order = interleave(all_shards(size, replicas, true, 123, 4, false, false));
  index_list sorted = order;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == iota_list(size)); // the ranks' shards come from one permutation
  CHECK(order != iota_list(size));

  // A sampler built later (another process) with the same seed and epoch sees the same order,
  // and padding mode does not change it.
  CHECK(interleave(all_shards(size, replicas, true, 123, 4, false, false)) == order);
  const auto padded = interleave(all_shards(size, replicas, true, 123, 4, false, true));
  CHECK(index_list(padded.begin(), padded.begin() + size) == order);
}

TEST_CASE("distributed_sampler draws a new permutation every epoch and seed", "[data][sampler]") {
  const std::size_t size = 50;
  auto order = [&](std::uint64_t seed, std::uint64_t epoch) {
    return interleave(all_shards(size, 1, true, seed, epoch, false, false));
  };
  CHECK(order(0, 0) != order(0, 1));
  CHECK(order(0, 1) != order(0, 2));
  CHECK(order(0, 0) != order(1, 0));
  CHECK(order(0, 1) != order(1, 0)); // (seed, epoch) pairs do not alias as in seed + epoch
  CHECK(order(9, 3) == order(9, 3));
}

TEST_CASE("distributed_sampler permutation is pinned across platforms", "[data][sampler]") {
  // Golden values from an independent Python implementation of xoshiro256** (splitmix64
  // seeding), Lemire's below and Fisher-Yates: every compiler must produce exactly this order.
  distributed_sampler s(10, 1, 0, true, 2024, false, false);
  s.set_epoch(3);
  CHECK(s.indices() == index_list{6, 7, 9, 3, 4, 8, 2, 1, 0, 5});
}

TEST_CASE("distributed_sampler without shuffle keeps the natural order", "[data][sampler]") {
  distributed_sampler s(7, 2, 1, false, 99, false, false);
  const index_list expected{1, 3, 5};
  CHECK(s.indices() == expected);
  s.set_epoch(5);
  CHECK(s.epoch() == 5);
  CHECK(s.indices() == expected);
}

TEST_CASE("distributed_sampler size matches indices for every mode", "[data][sampler]") {
  const bool drop_last = GENERATE(false, true);
  const bool pad = GENERATE(false, true);
  if (drop_last && !pad)
    return; // rejected combination, see the argument test
  for (std::size_t rank = 0; rank < 3; ++rank) {
    distributed_sampler s(11, 3, rank, true, 1, drop_last, pad);
    for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
      s.set_epoch(epoch);
      CHECK(s.indices().size() == s.size());
    }
  }
}

TEST_CASE("distributed_sampler rejects invalid arguments", "[data][sampler]") {
  SECTION("no replicas") {
    REQUIRE_THROWS_AS(distributed_sampler(10, 0, 0), troupe::error);
    REQUIRE_THROWS_WITH(distributed_sampler(10, 0, 0), Contains("num_replicas must be at least 1"));
  }
  SECTION("rank out of range") {
    REQUIRE_THROWS_AS(distributed_sampler(10, 4, 4), troupe::error);
    REQUIRE_THROWS_WITH(distributed_sampler(10, 4, 4), Contains("rank 4 is out of range for 4 replicas"));
  }
  SECTION("drop_last in evaluation mode") {
    REQUIRE_THROWS_AS(distributed_sampler(10, 2, 0, true, 0, true, false), troupe::error);
    REQUIRE_THROWS_WITH(distributed_sampler(10, 2, 0, true, 0, true, false),
                        Contains("drop_last=true contradicts pad=false"));
  }
}
