#include "ps/loader_core.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "common/error.hpp"
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

TEST_CASE("cut_shares: proportional, never below the floor, adding up to the total", "[ps][loader][balance]") {
  REQUIRE(cut_shares(64, {1.0, 1.0}, 8) == std::vector<std::size_t>{32, 32});
  REQUIRE(cut_shares(64, {3.0, 1.0}, 8) == std::vector<std::size_t>{48, 16});
  // A 100x slower rank is held at the floor; the rest goes to the fast one.
  REQUIRE(cut_shares(64, {100.0, 1.0}, 8) == std::vector<std::size_t>{56, 8});
  // A floor above an equal split becomes the equal split.
  REQUIRE(cut_shares(10, {100.0, 1.0, 1.0}, 8) == std::vector<std::size_t>{4, 3, 3});
  // Unmeasured (zero) weights share equally.
  REQUIRE(cut_shares(7, {0.0, 0.0}, 0) == std::vector<std::size_t>{4, 3});
  const std::size_t total = GENERATE(1, 17, 64, 1000);
  const std::size_t floor = GENERATE(0, 4, 16);
  const std::vector<double> w = GENERATE(std::vector<double>{1, 2, 3, 4}, std::vector<double>{1e-6, 5, 5, 1e6},
                                         std::vector<double>{0.3, 0.3, 0.3, 0.3});
  CAPTURE(total, floor, w);
  const auto s = cut_shares(total, w, floor);
  REQUIRE(s.size() == w.size());
  std::size_t sum = 0;
  for (std::size_t r = 0; r < s.size(); ++r) {
    sum += s[r];
    REQUIRE(s[r] >= std::min(floor, total / w.size()));
  }
  REQUIRE(sum == total);
  for (std::size_t r = 1; r < s.size(); ++r) // never less for a faster rank, beyond one rounding sample
    if (w[r] > w[r - 1])
      REQUIRE(s[r] + 1 >= s[r - 1]);
}

namespace {
balance_options speed_balance(std::size_t every) {
  balance_options b;
  b.speed = true;
  b.every_clocks = every;
  return b;
}
} // namespace

TEST_CASE("balance by speed: each clock's shares are the one-process global batch, every sample once per epoch",
          "[ps][loader][balance]") {
  const std::size_t n = GENERATE(250, 256, 1000);
  const std::size_t trainers = GENERATE(2, 3);
  const std::size_t batch = 16, epochs = 2;
  CAPTURE(n, trainers);
  loader_core core(n, trainers, batch, 4, epochs, speed_balance(3));
  data::distributed_sampler one(n, 1, 0, true, 4);
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    one.set_epoch(epoch);
    const auto order = one.indices();
    std::multiset<std::size_t> seen;
    for (std::size_t step = 0; step < core.steps_per_epoch(); ++step) {
      std::set<std::size_t> together;
      for (std::size_t r = 0; r < trainers; ++r) {
        const auto plan = core.next(r);
        REQUIRE(plan);
        REQUIRE(plan->step == step);
        together.insert(plan->indices.begin(), plan->indices.end());
        seen.insert(plan->indices.begin(), plan->indices.end());
        // Speeds that change every clock: rank 0 gets faster and faster, the last rank slower.
        core.observe(r, plan->indices.size(), r == 0 ? 1.0 / static_cast<double>(step + 1) : 0.5 * (r + 1));
      }
      const std::size_t lo = step * trainers * batch, hi = std::min(n, lo + trainers * batch);
      REQUIRE(together == std::set<std::size_t>(order.begin() + lo, order.begin() + hi));
    }
    REQUIRE(seen.size() == n);
    REQUIRE(std::set<std::size_t>(seen.begin(), seen.end()).size() == n);
  }
  for (std::size_t r = 0; r < trainers; ++r)
    REQUIRE_FALSE(core.next(r));
}

TEST_CASE("balance by speed: a 3x slower trainer gets a third of the fast one's share from the next period on",
          "[ps][loader][balance]") {
  const std::size_t batch = 32;
  loader_core core(100000, 2, batch, 1, 1, speed_balance(4));
  std::vector<std::vector<std::size_t>> sizes(2);
  for (std::size_t clock = 0; clock < 12; ++clock)
    for (std::size_t r = 0; r < 2; ++r) {
      const auto plan = core.next(r);
      sizes[r].push_back(plan->indices.size());
      core.observe(r, plan->indices.size(), plan->indices.size() * (r == 1 ? 3e-3 : 1e-3));
    }
  // Period 0 (clocks 0-3) was cut before anything was measured: equal shares.
  for (std::size_t clock = 0; clock < 4; ++clock)
    REQUIRE((sizes[0][clock] == batch && sizes[1][clock] == batch));
  // From clock 4 on: 1000 vs 333 samples/s -> 48 and 16 of the 64.
  for (std::size_t clock = 4; clock < 12; ++clock)
    REQUIRE((sizes[0][clock] == 48 && sizes[1][clock] == 16));
  const auto cuts = core.take_decided();
  REQUIRE(cuts.size() == 3);
  REQUIRE(cuts[0].from_clock == 0);
  REQUIRE(cuts[1].from_clock == 4);
  REQUIRE(cuts[1].shares == std::vector<std::size_t>{48, 16});
  REQUIRE(cuts[1].weights[0] == Approx(1000.0));
  REQUIRE(core.take_decided().empty());
}

TEST_CASE("balance by speed: a noisy step time moves the cut by at most a sample", "[ps][loader][balance]") {
  // Measured here: with a 3x slowed trainer beside it on 2 cores, the fast trainer's step takes
  // 16 to 28 ms for the same share. Its speed is the ratio of moving sums, so steps alternating
  // between the two still give the mean speed (1.4x the fast step's time), not a mean of ratios
  // that swings with whichever steps came last.
  const std::size_t batch = 32;
  loader_core core(1000000, 2, batch, 1, 1, speed_balance(10));
  std::vector<std::size_t> fast_share;
  for (std::size_t clock = 0; clock < 400; ++clock)
    for (std::size_t r = 0; r < 2; ++r) {
      const auto plan = core.next(r);
      if (r == 0 && clock >= 40 && clock % 10 == 0)
        fast_share.push_back(plan->indices.size());
      const double n = static_cast<double>(plan->indices.size());
      // rank 0: 1 ms or 1.8 ms per sample by a fixed pseudo-random pattern (mean 1.4 ms); rank 1: 4.2 ms
      const double per_sample = r == 1 ? 4.2e-3 : ((clock * 7 + clock / 3) % 2 == 0 ? 1.0e-3 : 1.8e-3);
      core.observe(r, plan->indices.size(), n * per_sample);
    }
  // 1/1.4 vs 1/4.2 samples/ms: 3:1, so 48 and 16 of the 64.
  const auto [lo, hi] = std::minmax_element(fast_share.begin(), fast_share.end());
  INFO("fast shares from " << *lo << " to " << *hi);
  REQUIRE(*hi - *lo <= 1); // the mean of per-step speeds (the estimator before) gave 49 to 51
  REQUIRE(*lo >= 47);
  REQUIRE(*hi <= 49);
}

TEST_CASE("balance by speed under ssp/asp: a trainer running ahead still gets its slice of each clock's global batch",
          "[ps][loader][balance]") {
  // Rank 0 asks up to 3 clocks ahead of rank 1 (an ssp bound, or credits), so a period's cut is
  // decided by whoever asks first; each clock is still the one-process global batch, every sample once.
  const std::size_t n = 1000, batch = 16, epochs = 2;
  loader_core core(n, 2, batch, 9, epochs, speed_balance(2));
  data::distributed_sampler one(n, 1, 0, true, 9);
  std::map<std::size_t, std::set<std::size_t>> by_clock; // global clock -> samples of both ranks
  std::multiset<std::size_t> seen;
  const auto take = [&](std::size_t r) {
    const auto plan = core.next(r);
    REQUIRE(plan);
    const std::size_t clock = plan->epoch * core.steps_per_epoch() + plan->step;
    by_clock[clock].insert(plan->indices.begin(), plan->indices.end());
    seen.insert(plan->indices.begin(), plan->indices.end());
    core.observe(r, plan->indices.size(), static_cast<double>(plan->indices.size()) * (r == 1 ? 4e-3 : 1e-3));
  };
  const std::size_t clocks = epochs * core.steps_per_epoch();
  for (std::size_t c1 = 0; c1 < clocks; ++c1) {
    while (core.position(0).epoch < epochs &&
           core.position(0).epoch * core.steps_per_epoch() + core.position(0).step <= c1 + 3)
      take(0);
    take(1);
  }
  REQUIRE_FALSE(core.next(0));
  REQUIRE_FALSE(core.next(1));
  REQUIRE(seen.size() == epochs * n);
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    one.set_epoch(epoch);
    const auto order = one.indices();
    for (std::size_t step = 0; step < core.steps_per_epoch(); ++step) {
      const std::size_t lo = step * 2 * batch, hi = std::min(n, lo + 2 * batch);
      INFO("epoch " << epoch << " step " << step);
      REQUIRE(by_clock[epoch * core.steps_per_epoch() + step] ==
              std::set<std::size_t>(order.begin() + lo, order.begin() + hi));
    }
  }
  const auto cuts = core.take_decided();
  REQUIRE(cuts.back().shares == std::vector<std::size_t>{26, 6}); // 4x slower: about a fifth, above the floor of 4
}

TEST_CASE("balance by speed: held cuts are used as they are, whatever the speeds, and malformed ones are refused",
          "[ps][loader][balance]") {
  using Catch::Matchers::Contains;
  const std::size_t batch = 32;
  loader_core core(100000, 2, batch, 1, 1, speed_balance(4));
  // Period 1 (clocks 4-7) held at 20/44: the speeds measured below would give 48/16.
  core.hold({balance_cut{4, {1.0, 2.0}, {20, 44}}});
  for (std::size_t clock = 0; clock < 12; ++clock)
    for (std::size_t r = 0; r < 2; ++r) {
      const auto plan = core.next(r);
      core.observe(r, plan->indices.size(), plan->indices.size() * (r == 1 ? 3e-3 : 1e-3));
      const std::size_t want = clock < 4 ? batch : clock < 8 ? (r == 0 ? 20 : 44) : (r == 0 ? 48 : 16);
      INFO("clock " << clock << " rank " << r);
      REQUIRE(plan->indices.size() == want);
    }
  const auto decided = core.take_decided();
  REQUIRE(decided.size() == 2); // periods 0 and 2: the held one is not reported as decided
  REQUIRE(decided[1].from_clock == 8);

  REQUIRE_THROWS_WITH(core.hold({balance_cut{6, {1.0, 1.0}, {32, 32}}}), Contains("clock 6") && Contains("period"));
  REQUIRE_THROWS_WITH(core.hold({balance_cut{8, {1.0}, {64}}}), Contains("1 shares") && Contains("2 trainers"));
  REQUIRE_THROWS_WITH(core.hold({balance_cut{8, {1.0, 1.0}, {32, 33}}}),
                      Contains("65 samples") && Contains("global batch is 64"));
}

TEST_CASE("balance off: the round-robin shards are unchanged by observed speeds", "[ps][loader][balance]") {
  loader_core plain(300, 2, 16, 5, 1), observed(300, 2, 16, 5, 1);
  for (std::size_t step = 0; step < plain.steps_per_epoch(); ++step)
    for (std::size_t r = 0; r < 2; ++r) {
      const auto a = plain.next(r), b = observed.next(r);
      observed.observe(r, b->indices.size(), r == 0 ? 0.001 : 1.0);
      REQUIRE(a->indices == b->indices);
    }
  REQUIRE(observed.take_decided().empty());
}

TEST_CASE("elastic: a free place shares nothing until it joins, then the next periods; every sample once per epoch",
          "[ps][loader][elastic]") {
  const std::size_t n = 1000, trainers = 3, batch = 16, epochs = 2, every = 4;
  balance_options b;
  b.every_clocks = every;
  b.present = {true, true, false}; // rank 2: a free place
  loader_core core(n, trainers, batch, 7, epochs, b);
  REQUIRE(core.steps_per_epoch() == (n + trainers * batch - 1) / (trainers * batch));
  data::distributed_sampler one(n, 1, 0, true, 7);
  std::size_t joined_at = 0;
  std::size_t after_join = 0; // samples rank 2 got
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    one.set_epoch(epoch);
    const auto order = one.indices();
    std::multiset<std::size_t> seen;
    for (std::size_t step = 0; step < core.steps_per_epoch(); ++step) {
      const std::uint64_t clock = epoch * core.steps_per_epoch() + step;
      if (clock == 6) { // mid-period, mid-epoch: rank 2 takes its place
        core.seek(2, clock);
        core.join(2);
        joined_at = clock;
      }
      std::set<std::size_t> together;
      for (std::size_t r = 0; r < trainers; ++r) {
        if (r == 2 && joined_at == 0)
          continue; // not there yet: asks for nothing
        const auto plan = core.next(r);
        REQUIRE(plan);
        CAPTURE(clock, r);
        if (r == 2 && clock < 8) // the period decided before it joined (clocks 4..7) keeps it out
          CHECK(plan->indices.empty());
        if (r == 2)
          after_join += plan->indices.size();
        together.insert(plan->indices.begin(), plan->indices.end());
        seen.insert(plan->indices.begin(), plan->indices.end());
      }
      const std::size_t lo = step * trainers * batch, hi = std::min(n, lo + trainers * batch);
      REQUIRE(together == std::set<std::size_t>(order.begin() + lo, order.begin() + hi));
    }
    REQUIRE(seen.size() == n);                                            // nothing twice ...
    REQUIRE(std::set<std::size_t>(seen.begin(), seen.end()).size() == n); // ... nothing left out
  }
  CHECK(after_join > 0);
  for (std::size_t r = 0; r < trainers; ++r)
    REQUIRE_FALSE(core.next(r));
}

TEST_CASE("elastic: an absent place's share goes to the present trainers; a job with nobody present is refused",
          "[ps][loader][elastic]") {
  balance_options b;
  b.present = {true, false};
  loader_core core(64, 2, 8, 1, 1, b);
  const auto p0 = core.next(0);
  REQUIRE(p0);
  CHECK(p0->indices.size() == 16); // the whole global batch (2 places x 8) while rank 1 is absent
  CHECK_THROWS_AS(loader_core(64, 2, 8, 1, 1, balance_options{false, 10, 0.25, 0.3, {false, false}}), troupe::error);
}

namespace {

/// Balance by speed with backup trainers: the late trainers' shares are kept and handed on.
balance_options keeping_late() {
  balance_options b;
  b.speed = true;
  b.keep_late = true;
  return b;
}

} // namespace

TEST_CASE("backup trainers: the shares of rounds closed without their trainer go to the others' next batches",
          "[ps][loader][balance][backup]") {
  // 3 trainers x 8, 240 samples: 10 clocks of 24 per epoch. Trainer 2 is late with clock 3 and
  // re-synced past clock 4: its shares of both go to trainers 0 and 1, never back to it.
  loader_core core(240, 3, 8, 4, 1, keeping_late());
  std::map<std::size_t, std::vector<std::size_t>> own; // rank 2's share at clock 3 and 4
  std::multiset<std::size_t> trained;                  // every sample a computed batch holds
  for (std::size_t clock = 0; clock < 3; ++clock)
    for (std::size_t r = 0; r < 3; ++r) {
      const auto p = core.next(r);
      trained.insert(p->indices.begin(), p->indices.end());
    }
  for (std::size_t r = 0; r < 3; ++r) { // clock 3 planned for everyone (rank 2's gradient will come late)
    const auto p = core.next(r);
    if (r == 2)
      own[3] = p->indices;
    else
      trained.insert(p->indices.begin(), p->indices.end());
  }
  for (std::size_t r = 0; r < 2; ++r) { // clock 4: the others only; rank 2 skips it
    const auto p = core.next(r);
    trained.insert(p->indices.begin(), p->indices.end());
  }
  const std::size_t queued = core.owe(2, 3, 5);
  REQUIRE(queued == 16);           // two shares of 8 (the equal cut: no speeds observed)
  REQUIRE(core.owe(2, 3, 5) == 0); // owed once
  core.seek(2, 5);
  // The skipped clock's share is the one rank 2 would have had: the rest of clock 4's chunk.
  std::set<std::size_t> clock4(trained.begin(), trained.end());
  std::size_t extras = 0;
  for (std::size_t clock = 5; clock < 10; ++clock)
    for (std::size_t r = 0; r < 3; ++r) {
      const auto p = core.next(r);
      REQUIRE(p->extra <= 4); // at most half a batch rides along
      if (r == 2)
        REQUIRE(p->extra == 0); // never back to the trainer that was late with them
      extras += p->extra;
      trained.insert(p->indices.begin(), p->indices.end());
    }
  REQUIRE(extras == 16);
  REQUIRE(core.owed_samples() == 16);
  REQUIRE(core.owed_served() == 16);
  // Every sample of the epoch trained exactly once: rank 2's late and skipped shares by the others.
  REQUIRE(trained.size() == 240);
  REQUIRE(std::set<std::size_t>(trained.begin(), trained.end()).size() == 240);
  for (std::size_t i : own[3])
    REQUIRE(trained.count(i) == 1);
}

TEST_CASE("backup trainers: what is owed near the end of the job is served by the last batches, not dropped",
          "[ps][loader][balance][backup]") {
  // 2 trainers x 8, 160 samples, 1 epoch: 10 clocks. Trainer 1 is re-synced past clocks 5..8:
  // 32 samples owed with 4 batches of trainer 0 left. Half a batch per batch (4) would serve 16
  // of them; spread over the batches left, all 32 ride along (8 per batch, at most 2 batches).
  loader_core core(160, 2, 8, 1, 1, keeping_late());
  for (std::size_t clock = 0; clock < 6; ++clock)
    for (std::size_t r = 0; r < 2; ++r)
      core.next(r);
  REQUIRE(core.owe(1, 5, 9) == 32);
  core.seek(1, 9);
  std::size_t extras = 0, largest = 0;
  while (const auto p = core.next(0)) {
    extras += p->extra;
    largest = std::max(largest, p->extra);
  }
  REQUIRE(core.next(1)); // rank 1's last batch: nothing back to it
  REQUIRE(extras == 32);
  REQUIRE(core.owed_served() == 32);
  REQUIRE(largest == 8);
}

TEST_CASE("backup trainers: a round far behind every trainer, whose cut is forgotten, is not re-cut",
          "[ps][loader][balance][backup]") {
  balance_options b = keeping_late();
  b.every_clocks = 1; // a cut per clock: 64 periods kept behind the slowest cursor
  loader_core core(2400, 3, 8, 4, 1, b);
  for (std::size_t clock = 0; clock < 90; ++clock)
    for (std::size_t r = 0; r < 3; ++r)
      core.next(r);
  REQUIRE(core.owe(2, 0, 2) == 0);   // clocks 0 and 1: their cuts are gone
  REQUIRE(core.owe(2, 80, 81) == 8); // clock 80: still known
}

TEST_CASE("without backup trainers' keep_late nothing is owed and batches stay as cut",
          "[ps][loader][balance][backup]") {
  balance_options b;
  b.speed = true;
  loader_core core(240, 3, 8, 4, 1, b);
  for (std::size_t r = 0; r < 3; ++r)
    core.next(r);
  REQUIRE(core.owe(2, 0, 1) == 0);
  for (std::size_t r = 0; r < 3; ++r)
    REQUIRE(core.next(r)->extra == 0);
}
