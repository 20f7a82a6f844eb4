// The aggregator core under faults: non-finite gradients (refused, escalated) and trainers that
// leave and rejoin (on_trainer_loss: shrink), plus what "wait" means for ssp and asp.

#include "ps/aggregator_core.hpp"

#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "aggregator_test_util.hpp"

using namespace troupe;
using namespace troupe::ps;
using test::plain_sgd;
using test::two_params;

namespace {

constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();
constexpr float inf_f = std::numeric_limits<float>::infinity();

using released_t = std::vector<std::size_t>;

} // namespace

TEST_CASE("bsp refuses a NaN gradient: the round applies the other trainers' mean and nobody waits",
          "[ps][aggregator][bsp][faults]") {
  aggregator_core agg(plain_sgd(config::consistency::bsp, 2), two_params(), {1.f, 1.f, 1.f});
  const float good[] = {1.f, 0.f, 2.f}, bad[] = {nan_f, 1.f, inf_f};
  const bool bad_first = GENERATE(false, true);
  CAPTURE(bad_first);
  push_outcome refused;
  if (bad_first) {
    refused = agg.push(1, 0, 0, 3, bad);
    REQUIRE(refused.released.empty()); // the round still waits for trainer 0
    REQUIRE(agg.push(0, 0, 0, 1, good).released == released_t{0, 1});
  } else {
    REQUIRE(agg.push(0, 0, 0, 1, good).applied == 0);
    refused = agg.push(1, 0, 0, 3, bad);
    REQUIRE(refused.released == released_t{0, 1});
  }
  REQUIRE(refused.refused);
  REQUIRE(refused.refused_in_a_row == 1);
  REQUIRE_FALSE(refused.escalate);
  REQUIRE(refused.nonfinite.nan == 1);
  REQUIRE(refused.nonfinite.inf == 1);
  REQUIRE(refused.nonfinite.params.size() == 2);
  REQUIRE(refused.nonfinite.params[0].name == "w");
  REQUIRE(refused.nonfinite.params[1].name == "b");
  // Only trainer 0's gradient (its 1 sample): p = 1 − 0.5 · (1, 0, 2); the bad one's 3 samples do not count.
  REQUIRE(agg.params() == std::vector<float>{0.5f, 1.f, 0.f});
  REQUIRE(agg.version() == 1);
  REQUIRE(agg.clock_of(1) == 1); // its clock counts as pushed: it goes on at clock 1
  REQUIRE(agg.at_round_boundary());
  // Training continues with both: the next round is a plain mean again.
  const float g0[] = {2.f, 2.f, 2.f}, g1[] = {0.f, 2.f, 4.f};
  agg.push(0, 1, 1, 1, g0);
  const auto next = agg.push(1, 1, 1, 1, g1);
  REQUIRE(next.applied == 1);
  REQUIRE_FALSE(next.refused);
  REQUIRE(agg.refused_in_a_row(1) == 0);
  REQUIRE(agg.params() == std::vector<float>{0.f, 0.f, -1.5f});
}

TEST_CASE("a bsp round whose every gradient is refused applies nothing and releases everyone",
          "[ps][aggregator][bsp][faults]") {
  aggregator_core agg(plain_sgd(config::consistency::bsp, 2), two_params(), {1.f, 1.f, 1.f});
  const float bad[] = {1.f, -inf_f, 1.f};
  agg.push(0, 0, 0, 2, bad);
  const auto out = agg.push(1, 0, 0, 2, bad);
  REQUIRE(out.refused);
  REQUIRE(out.applied == 0);
  REQUIRE(out.released == released_t{0, 1});
  REQUIRE(agg.version() == 0);
  REQUIRE(agg.params() == std::vector<float>{1.f, 1.f, 1.f});
  REQUIRE(agg.may_start(0, 1));
}

TEST_CASE("asp refuses a NaN gradient: parameters and version unchanged, the pusher goes on",
          "[ps][aggregator][asp][faults]") {
  aggregator_core agg(plain_sgd(config::consistency::asp, 2), two_params(), {0.f, 0.f, 0.f});
  const float good[] = {2.f, 0.f, 0.f}, bad[] = {1.f, 1.f, nan_f};
  REQUIRE(agg.push(0, 0, 0, 1, good).applied == 1);
  const auto out = agg.push(1, 0, 0, 1, bad);
  REQUIRE(out.refused);
  REQUIRE(out.applied == 0);
  REQUIRE(out.released == released_t{1});
  REQUIRE(out.nonfinite.params.size() == 1);
  REQUIRE(out.nonfinite.params[0].name == "b");
  REQUIRE(agg.version() == 1);
  REQUIRE(agg.params() == std::vector<float>{-0.5f, 0.f, 0.f}); // 0.5 · 2 / 2 trainers, once
  REQUIRE(agg.clock_of(1) == 1);
  REQUIRE(agg.push(1, 1, 1, 1, good).applied == 1); // and continues
  REQUIRE(agg.params()[0] == -1.f);
}

TEST_CASE("on_nonfinite_gradient: apply keeps the unchecked behaviour", "[ps][aggregator][faults]") {
  auto o = plain_sgd(config::consistency::asp, 1);
  o.refuse_nonfinite = false;
  aggregator_core agg(o, two_params(), {0.f, 0.f, 0.f});
  const float bad[] = {nan_f, 1.f, 1.f};
  const auto out = agg.push(0, 0, 0, 1, bad);
  REQUIRE_FALSE(out.refused);
  REQUIRE(out.applied == 1);
  REQUIRE(std::isnan(agg.params()[0]));
}

TEST_CASE("refusals in a row from one trainer escalate; an accepted gradient resets the count",
          "[ps][aggregator][faults]") {
  auto o = plain_sgd(config::consistency::asp, 2);
  o.max_refused_in_a_row = 3;
  aggregator_core agg(o, two_params(), {0.f, 0.f, 0.f});
  const float good[] = {1.f, 1.f, 1.f}, bad[] = {inf_f, 1.f, 1.f};
  std::uint64_t clock = 0;
  auto push = [&](const float* g) { return agg.push(0, clock++, agg.version(), 1, g); };
  REQUIRE(push(bad).refused_in_a_row == 1);
  REQUIRE(push(bad).refused_in_a_row == 2);
  REQUIRE_FALSE(push(good).refused);
  REQUIRE(agg.refused_in_a_row(0) == 0);
  // Another trainer's refusals are its own.
  REQUIRE(agg.push(1, 0, 0, 1, bad).refused_in_a_row == 1);
  REQUIRE_FALSE(push(bad).escalate);
  REQUIRE_FALSE(push(bad).escalate);
  const auto third = push(bad);
  REQUIRE(third.refused_in_a_row == 3);
  REQUIRE(third.escalate);
  REQUIRE(agg.version() == 1); // only the good one was applied
}

TEST_CASE("shrink: bsp continues with the survivors' mean and takes a readmitted trainer back",
          "[ps][aggregator][bsp][membership]") {
  aggregator_core agg(plain_sgd(config::consistency::bsp, 2), two_params(), {1.f, 1.f, 1.f});
  // Clock 0, both: mean = (1·(1,0,2) + 3·(4,3,−1)) / 4 = (3.25, 2.25, −0.25).
  const float a[] = {1.f, 0.f, 2.f}, b[] = {4.f, 3.f, -1.f};
  agg.push(0, 0, 0, 1, a);
  agg.push(1, 0, 0, 3, b);
  REQUIRE(agg.params() == std::vector<float>{-0.625f, -0.125f, 1.125f});

  // Clock 1: trainer 0 pushes, trainer 1 is lost before it does: the round closes with trainer 0 alone.
  const float c1[] = {2.f, 2.f, 2.f};
  REQUIRE(agg.push(0, 1, 1, 2, c1).released.empty());
  const auto lost = agg.remove_trainer(1);
  REQUIRE(lost.applied == 1);
  REQUIRE(lost.released == released_t{0}); // the absent trainer gets nothing
  REQUIRE(agg.params() == std::vector<float>{-1.625f, -1.125f, 0.125f});
  REQUIRE_FALSE(agg.present(1));
  REQUIRE(agg.present_count() == 1);
  REQUIRE(agg.remove_trainer(1).released.empty()); // already absent: no-op

  // Clock 2: trainer 0 alone; each push is a whole round. The absent trainer's clock follows.
  const float c2[] = {-2.f, 0.f, 4.f};
  const auto alone = agg.push(0, 2, 2, 1, c2);
  REQUIRE(alone.applied == 1);
  REQUIRE(alone.released == released_t{0});
  REQUIRE(agg.params() == std::vector<float>{-0.625f, -1.125f, -1.875f});
  REQUIRE(agg.clock_of(1) == 3);
  REQUIRE(agg.min_clock() == 3);
  REQUIRE(agg.at_round_boundary()); // a complete state: the clocks agree
  REQUIRE_THROWS_WITH(agg.push(1, 3, 3, 1, c2), Catch::Contains("not a member"));

  // Trainer 1 comes back: it continues at clock 3, and round 3 waits for it.
  REQUIRE(agg.readmit_trainer(1) == 3);
  REQUIRE(agg.present(1));
  const float c3a[] = {1.f, 1.f, 1.f}, c3b[] = {3.f, -1.f, 1.f};
  REQUIRE(agg.push(0, 3, 3, 1, c3a).released.empty());
  REQUIRE_FALSE(agg.may_start(0, 4));
  const auto both = agg.push(1, 3, 3, 1, c3b);
  REQUIRE(both.released == released_t{0, 1});
  // mean (2, 0, 1): p −= 0.5 · (2, 0, 1)
  REQUIRE(agg.params() == std::vector<float>{-1.625f, -1.125f, -2.375f});
  REQUIRE(agg.version() == 4); // one update per clock throughout
}

TEST_CASE("shrink: a gradient received before the trainer was lost still counts in its round",
          "[ps][aggregator][bsp][membership]") {
  aggregator_core agg(plain_sgd(config::consistency::bsp, 2), two_params(), {0.f, 0.f, 0.f});
  const float g0[] = {2.f, 0.f, 0.f}, g1[] = {0.f, 2.f, 0.f};
  agg.push(1, 0, 0, 1, g1);
  const auto lost = agg.remove_trainer(1);
  REQUIRE(lost.applied == 0); // trainer 0 has not pushed yet
  REQUIRE(lost.released.empty());
  REQUIRE(agg.push(0, 0, 0, 1, g0).released == released_t{0});
  REQUIRE(agg.params() == std::vector<float>{-0.5f, -0.5f, 0.f}); // mean of both
  // Back while nothing is gathered: it continues at clock 1 with the others.
  REQUIRE(agg.readmit_trainer(1) == 1);
}

TEST_CASE("shrink: with every trainer lost a bsp round waits for one to come back",
          "[ps][aggregator][bsp][membership]") {
  aggregator_core agg(plain_sgd(config::consistency::bsp, 2), two_params(), {0.f, 0.f, 0.f});
  REQUIRE(agg.remove_trainer(0).released.empty());
  REQUIRE(agg.remove_trainer(1).released.empty());
  REQUIRE(agg.present_count() == 0);
  REQUIRE(agg.min_clock() == 0);
  REQUIRE_FALSE(agg.done());
  REQUIRE(agg.readmit_trainer(0) == 0);
  const float g[] = {2.f, 2.f, 2.f};
  REQUIRE(agg.push(0, 0, 0, 1, g).released == released_t{0});
  REQUIRE(agg.params() == std::vector<float>{-1.f, -1.f, -1.f});
}

TEST_CASE("wait vs shrink for ssp: a lost slowest trainer blocks the others until it is removed",
          "[ps][aggregator][ssp][membership]") {
  aggregator_core agg(plain_sgd(config::consistency::ssp, 2, 1), two_params(), {0.f, 0.f, 0.f});
  const float g[] = {1.f, 1.f, 1.f};
  agg.push(0, 0, 0, 1, g);
  agg.push(0, 1, 1, 1, g);
  REQUIRE_FALSE(agg.may_start(0, 2)); // wait: trainer 1 silent at clock 0, 2 − 0 > 1
  const auto lost = agg.remove_trainer(1);
  REQUIRE(lost.released == released_t{0}); // shrink: the bound now follows trainer 0 alone
  for (std::uint64_t c = 2; c < 10; ++c) {
    REQUIRE(agg.may_start(0, c));
    agg.push(0, c, agg.version(), 1, g);
  }
  REQUIRE(agg.done());
  REQUIRE(agg.version() == 10);
  REQUIRE(agg.readmit_trainer(1) == 10); // readmitted at the slowest present clock
}

TEST_CASE("wait vs shrink for asp: survivors push every clock, but the job ends only without the lost one",
          "[ps][aggregator][asp][membership]") {
  aggregator_core agg(plain_sgd(config::consistency::asp, 2), two_params(), {0.f, 0.f, 0.f});
  const float g[] = {1.f, 1.f, 1.f};
  for (std::uint64_t c = 0; c < 10; ++c) {
    REQUIRE(agg.may_start(0, c));
    agg.push(0, c, agg.version(), 1, g);
  }
  REQUIRE_FALSE(agg.done()); // wait: trainer 1 still owes its 10 clocks
  REQUIRE(agg.remove_trainer(1).released.empty());
  REQUIRE(agg.done());
}

TEST_CASE("restoring a checkpoint makes every trainer present again", "[ps][aggregator][membership]") {
  aggregator_core agg(plain_sgd(config::consistency::bsp, 2), two_params(), {0.f, 0.f, 0.f});
  agg.remove_trainer(1);
  const float g[] = {1.f, 1.f, 1.f};
  agg.push(0, 0, 0, 1, g);
  const auto opt = agg.optimizer().state();
  agg.restore(agg.params(), opt, agg.version(), agg.clocks());
  REQUIRE(agg.present(1));
  REQUIRE(agg.clocks() == std::vector<std::uint64_t>{1, 1});
  agg.push(0, 1, 1, 1, g);
  REQUIRE_FALSE(agg.may_start(0, 2)); // the round waits for trainer 1 again
  REQUIRE(agg.push(1, 1, 1, 1, g).released == released_t{0, 1});
}
