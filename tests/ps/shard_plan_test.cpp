// How K aggregator shards cut the flat parameter vector: contiguous, balanced, covering it all,
// and each shard's layout naming exactly the floats it owns.

#include "ps/shard_plan.hpp"

#include <catch2/catch.hpp>

#include "common/error.hpp"

using namespace troupe;
using namespace troupe::ps;

namespace {

/// conv weight [2, 1, 3, 3] (18), its bias (2), dense weight [3, 4] (12), its bias (3): 35 floats.
nn::param_layout small_layout() {
  nn::param_layout l;
  std::size_t offset = 0;
  for (auto [name, shape] : std::vector<std::pair<std::string, tensor::shape_t>>{
           {"0.weight", {2, 1, 3, 3}}, {"0.bias", {2}}, {"4.weight", {3, 4}}, {"4.bias", {3}}}) {
    const auto size = tensor::numel(shape);
    l.entries.push_back({name, shape, offset, size});
    offset += size;
  }
  l.total = offset;
  return l;
}

} // namespace

TEST_CASE("shards cover the parameters contiguously with sizes differing by at most one", "[ps][shards]") {
  const std::size_t total = GENERATE(as<std::size_t>{}, 1, 7, 35, 225034);
  const std::size_t k = GENERATE(as<std::size_t>{}, 1, 2, 3, 7);
  if (k > total) {
    REQUIRE_THROWS_WITH(plan_shards(total, k), Catch::Contains("aggregator shards for"));
    return;
  }
  const auto r = plan_shards(total, k);
  REQUIRE(r.size() == k);
  REQUIRE(r.front().begin == 0);
  REQUIRE(r.back().end == total);
  std::size_t smallest = total, largest = 0;
  for (std::size_t s = 0; s < k; ++s) {
    if (s > 0)
      REQUIRE(r[s].begin == r[s - 1].end);
    smallest = std::min(smallest, r[s].size());
    largest = std::max(largest, r[s].size());
  }
  REQUIRE(largest - smallest <= 1);
  REQUIRE(smallest >= 1);
  REQUIRE_THROWS_WITH(plan_shards(total, 0), Catch::Contains("0 aggregator shards"));
}

TEST_CASE("a shard's layout keeps whole tensors and names the part of a cut one", "[ps][shards]") {
  const auto l = small_layout();
  const auto r = plan_shards(l.total, 2); // [0, 18) and [18, 35)
  const auto a = slice_layout(l, r[0]);
  REQUIRE(a.total == 18);
  REQUIRE(a.entries.size() == 1);
  REQUIRE(a.entries[0].name == "0.weight");
  REQUIRE(a.entries[0].shape == tensor::shape_t{2, 1, 3, 3});
  const auto b = slice_layout(l, r[1]);
  REQUIRE(b.total == 17);
  REQUIRE(b.entries.size() == 3);
  REQUIRE(b.entries[0].name == "0.bias");
  REQUIRE(b.entries[0].offset == 0);
  REQUIRE(b.entries[2].name == "4.bias");
  REQUIRE(b.entries[2].offset == 14);

  const auto c = slice_layout(l, {5, 22}); // cuts 0.weight and 4.weight
  REQUIRE(c.total == 17);
  REQUIRE(c.entries.size() == 3);
  REQUIRE(c.entries[0].name == "0.weight[5:18]");
  REQUIRE(c.entries[0].shape == tensor::shape_t{13});
  REQUIRE(c.entries[1].name == "0.bias");
  REQUIRE(c.entries[1].offset == 13);
  REQUIRE(c.entries[2].name == "4.weight[0:2]");
  REQUIRE(c.entries[2].offset == 15);
  std::size_t sum = 0;
  for (const auto& e : c.entries)
    sum += e.size;
  REQUIRE(sum == c.total);
  REQUIRE_THROWS_WITH(slice_layout(l, {30, 40}), Catch::Contains("outside a layout of 35"));
}

TEST_CASE("shard 0 is the aggregator and the others are numbered", "[ps][shards]") {
  REQUIRE(aggregator_shard_name(0) == "aggregator");
  REQUIRE(aggregator_shard_name(3) == "aggregator-3");
}
