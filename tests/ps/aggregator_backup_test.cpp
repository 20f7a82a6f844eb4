// Backup trainers (bsp, aggregator_options::backup_trainers): rounds close with the first P − b
// gradients, late ones are dropped and their trainer catches up (ps/aggregator_core.hpp).

#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "ps/aggregator_core.hpp"

#include "aggregator_test_util.hpp"

using namespace troupe;
using namespace troupe::ps;
using test::plain_sgd;
using test::two_params;

namespace {

aggregator_options with_backups(std::size_t trainers, std::size_t backups) {
  auto o = plain_sgd(config::consistency::bsp, trainers);
  o.backup_trainers = backups;
  return o;
}

} // namespace

TEST_CASE("backup trainers: a bsp round closes with the first N - b gradients and drops the late one",
          "[ps][aggregator][backup]") {
  aggregator_core agg(with_backups(3, 1), two_params(), {1.f, 1.f, 1.f});
  const float g0[] = {1.f, 0.f, 2.f}, g1[] = {100.f, 100.f, 100.f}, g2[] = {4.f, 3.f, -1.f};
  REQUIRE(agg.push(0, 0, 0, 1, g0).applied == 0);
  const auto closed = agg.push(2, 0, 0, 3, g2); // the second of three: the round closes
  REQUIRE(closed.applied == 1);
  REQUIRE(closed.released == std::vector<std::size_t>{0, 2}); // the late trainer is still computing
  // mean of the two = (1·g0 + 3·g2) / 4 = (3.25, 2.25, -0.25); p = 1 − 0.5·mean
  REQUIRE(agg.params()[0] == Approx(1 - 0.5 * 3.25));
  REQUIRE(agg.params()[2] == Approx(1 + 0.5 * 0.25));
  REQUIRE(agg.version() == 1);
  REQUIRE(agg.gate_clock() == 1); // the others may start clock 1 ...
  REQUIRE(agg.may_start(0, 1));
  REQUIRE(agg.min_clock() == 0); // ... while the slowest present trainer is still at 0
  REQUIRE_FALSE(agg.done());

  const auto params = agg.params();
  const auto late = agg.push(1, 0, 0, 2, g1);
  REQUIRE(late.late);
  REQUIRE_FALSE(late.duplicate);
  REQUIRE_FALSE(late.refused);
  REQUIRE(late.applied == 0);
  REQUIRE(late.released == std::vector<std::size_t>{1}); // fresh parameters, on to clock 1 with the others
  REQUIRE(late.resync.empty());
  REQUIRE(agg.params() == params); // nothing of it was applied
  REQUIRE(agg.version() == 1);
  REQUIRE(agg.clock_of(1) == 1);
  REQUIRE(agg.late_dropped() == 1);
  REQUIRE(agg.late_dropped(1) == 1);
  REQUIRE(agg.late_dropped(0) == 0);
  REQUIRE(agg.at_round_boundary());

  // Round 1: whoever is first closes it, the late trainer of clock 0 included.
  REQUIRE(agg.push(1, 1, 1, 2, g1).applied == 0);
  REQUIRE(agg.push(0, 1, 1, 2, g0).applied == 1);
  REQUIRE(agg.push(2, 1, 1, 2, g2).late);
  REQUIRE(agg.late_dropped(2) == 1);
  REQUIRE(agg.late_dropped() == 2);
}

TEST_CASE("backup trainers: a trainer late by several rounds is re-synced to the round being gathered",
          "[ps][aggregator][backup]") {
  aggregator_core agg(with_backups(2, 1), two_params(), {0.f, 0.f, 0.f});
  const float g[] = {1.f, 1.f, 1.f};
  for (std::uint64_t c = 0; c < 3; ++c) { // trainer 0 alone closes rounds 0, 1, 2
    const auto out = agg.push(0, c, agg.version(), 1, g);
    REQUIRE(out.applied == 1);
    REQUIRE(out.released == std::vector<std::size_t>{0});
  }
  REQUIRE(agg.gate_clock() == 3);
  const auto late = agg.push(1, 0, 0, 1, g);
  REQUIRE(late.late);
  REQUIRE(late.released.empty());
  REQUIRE(late.resync == std::vector<std::size_t>{1}); // rounds 1 and 2 closed without it: skip them
  REQUIRE(agg.clock_of(1) == 3);
  REQUIRE(agg.min_clock() == 3);
  // A replay of what it pushed, or of a clock it skipped, is a duplicate, not an error.
  REQUIRE(agg.push(1, 0, 0, 1, g).duplicate);
  REQUIRE(agg.push(1, 2, 0, 1, g).duplicate);
  REQUIRE(agg.late_dropped() == 1);
  // The clocks stay aligned: round 3 is open to both, and the first push closes it.
  REQUIRE(agg.push(1, 3, agg.version(), 1, g).applied == 1);
  REQUIRE(agg.push(0, 3, agg.version() - 1, 1, g).late);
  REQUIRE(agg.version() == 4);
}

TEST_CASE("backup trainers: a late gradient is dropped unread, not refused, even when it holds NaN",
          "[ps][aggregator][backup][faults]") {
  aggregator_core agg(with_backups(2, 1), two_params(), {0.f, 0.f, 0.f});
  const float g[] = {1.f, 1.f, 1.f};
  const float bad[] = {std::numeric_limits<float>::quiet_NaN(), 0.f, 0.f};
  agg.push(0, 0, 0, 1, g);
  const auto late = agg.push(1, 0, 0, 1, bad);
  REQUIRE(late.late);
  REQUIRE_FALSE(late.refused);
  REQUIRE_FALSE(late.escalate);
  REQUIRE(agg.refused_in_a_row(1) == 0);
  REQUIRE(std::isfinite(agg.params()[0]));
}

TEST_CASE("backup trainers: the job is done once the late trainer's last push is in", "[ps][aggregator][backup]") {
  aggregator_core agg(with_backups(2, 1), two_params(), {0.f, 0.f, 0.f});
  const float g[] = {1.f, 1.f, 1.f};
  for (std::uint64_t c = 0; c < agg.total_clocks(); ++c)
    agg.push(0, c, agg.version(), 1, g);
  REQUIRE(agg.version() == agg.total_clocks());
  REQUIRE(agg.gate_clock() == agg.total_clocks());
  REQUIRE_FALSE(agg.may_start(0, agg.total_clocks()));
  REQUIRE_FALSE(agg.done()); // trainer 1 is still computing clock 0
  const auto late = agg.push(1, 0, 0, 1, g);
  REQUIRE(late.resync == std::vector<std::size_t>{1}); // told it is at the end
  REQUIRE(agg.clock_of(1) == agg.total_clocks());
  REQUIRE(agg.done());
}

TEST_CASE("backup trainers: without them (b = 0) a round waits for every trainer and nothing is late",
          "[ps][aggregator][backup]") {
  aggregator_core agg(with_backups(3, 0), two_params(), {0.f, 0.f, 0.f});
  const float g[] = {1.f, 1.f, 1.f};
  REQUIRE(agg.push(0, 0, 0, 1, g).applied == 0);
  REQUIRE(agg.push(1, 0, 0, 1, g).applied == 0);
  REQUIRE_FALSE(agg.may_start(0, 1));
  REQUIRE(agg.gate_clock() == agg.min_clock());
  const auto last = agg.push(2, 0, 0, 1, g);
  REQUIRE_FALSE(last.late);
  REQUIRE(last.applied == 1);
  REQUIRE(last.released == std::vector<std::size_t>{0, 1, 2});
  REQUIRE(agg.late_dropped() == 0);
}

TEST_CASE("backup trainers with shrink: a round needs max(1, P - b) of the present trainers",
          "[ps][aggregator][backup][membership]") {
  aggregator_core agg(with_backups(3, 1), two_params(), {0.f, 0.f, 0.f});
  const float g[] = {1.f, 1.f, 1.f};
  agg.remove_trainer(2);
  REQUIRE(agg.push(0, 0, 0, 1, g).applied == 1); // P = 2, b = 1: one gradient closes it
  agg.remove_trainer(1);
  REQUIRE(agg.push(0, 1, 1, 1, g).applied == 1); // P = 1: still one, never none
  REQUIRE(agg.clock_of(2) == 2);                 // an absent trainer's clock follows the rounds
}

TEST_CASE("backup trainers: a restored checkpoint puts every trainer at the round being gathered",
          "[ps][aggregator][backup]") {
  aggregator_core agg(with_backups(3, 1), two_params(), {0.f, 0.f, 0.f});
  const auto opt = agg.optimizer().state();
  agg.restore({1.f, 2.f, 3.f}, opt, 5, {5, 3, 5}); // trainer 1 was late when the checkpoint was written
  REQUIRE(agg.gate_clock() == 5);
  REQUIRE(agg.clocks() == std::vector<std::uint64_t>{5, 5, 5});
  REQUIRE(agg.may_start(1, 5));
  REQUIRE(agg.late_dropped() == 0);
}

TEST_CASE("backup trainers need bsp and fewer backups than trainers", "[ps][aggregator][backup]") {
  REQUIRE_THROWS_AS(aggregator_core(with_backups(2, 2), two_params(), {0.f, 0.f, 0.f}), error);
  auto asp = plain_sgd(config::consistency::asp, 3);
  asp.backup_trainers = 1;
  REQUIRE_THROWS_WITH(aggregator_core(asp, two_params(), {0.f, 0.f, 0.f}), Catch::Contains("needs bsp"));
}
