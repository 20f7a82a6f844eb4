#include "ps/loader_core.hpp"

#include <set>

#include <catch2/catch.hpp>

#include "data/distributed_sampler.hpp"

using namespace troupe;
using namespace troupe::ps;

TEST_CASE("every sample of every epoch is delivered exactly once across trainers", "[ps][loader]") {
  const std::size_t n = GENERATE(100, 101, 7);
  const std::size_t trainers = GENERATE(1, 2, 4);
  const std::size_t batch = GENERATE(3, 16);
  CAPTURE(n, trainers, batch);
  loader_core core(n, trainers, batch, 9, 2);
  for (std::size_t epoch = 0; epoch < 2; ++epoch) {
    std::multiset<std::size_t> seen;
    for (std::size_t step = 0; step < core.steps_per_epoch(); ++step)
      for (std::size_t r = 0; r < trainers; ++r) {
        auto plan = core.next(r);
        REQUIRE(plan);
        REQUIRE(plan->epoch == epoch);
        REQUIRE(plan->step == step);
        REQUIRE(plan->indices.size() <= batch);
        seen.insert(plan->indices.begin(), plan->indices.end());
      }
    REQUIRE(seen.size() == n);
    REQUIRE(std::set<std::size_t>(seen.begin(), seen.end()).size() == n);
  }
  for (std::size_t r = 0; r < trainers; ++r)
    REQUIRE_FALSE(core.next(r));
}

TEST_CASE("N trainers' batch k together equal a one-process batch k of size N·b", "[ps][loader]") {
  const std::size_t n = 250, trainers = 2, batch = 16;
  loader_core core(n, trainers, batch, 4, 1);
  data::distributed_sampler one(n, 1, 0, true, 4);
  one.set_epoch(0);
  const auto order = one.indices();
  for (std::size_t step = 0; step < core.steps_per_epoch(); ++step) {
    std::set<std::size_t> together;
    for (std::size_t r = 0; r < trainers; ++r) {
      const auto plan = core.next(r);
      together.insert(plan->indices.begin(), plan->indices.end());
    }
    const std::size_t lo = step * trainers * batch, hi = std::min(n, lo + trainers * batch);
    REQUIRE(together == std::set<std::size_t>(order.begin() + lo, order.begin() + hi));
  }
}

TEST_CASE("trainers advance independently and a rank outside the job is refused", "[ps][loader]") {
  loader_core core(40, 2, 10, 1, 1);
  REQUIRE(core.steps_per_epoch() == 2);
  REQUIRE(core.next(0)->step == 0);
  REQUIRE(core.next(0)->step == 1);
  REQUIRE_FALSE(core.next(0));
  REQUIRE(core.position(1).step == 0);
  REQUIRE(core.next(1)->step == 0);
  REQUIRE_THROWS_WITH(core.next(2), Catch::Contains("rank 2 out of range"));
}
