#include "ps/loader_core.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "common/error.hpp"
#include "data/distributed_sampler.hpp"

namespace troupe::ps {

namespace {
/// keep_late: how many periods of cuts are kept behind the slowest trainer's cursor.
constexpr std::uint64_t kept_periods = 64;
} // namespace

std::vector<std::size_t> cut_shares(std::size_t total, const std::vector<double>& weights, std::size_t floor_share) {
  const std::size_t n = weights.size();
  TROUPE_ENFORCE(n > 0, "no trainers to share among");
  const std::size_t least = std::min(floor_share, total / n);
  // Proportional shares; a rank whose share would fall below `least` is held there, and the
  // others share what is left by their weights (repeat until no new rank falls below).
  std::vector<bool> held(n, false);
  std::vector<double> ideal(n, 0.0);
  for (bool changed = true; changed;) {
    changed = false;
    std::size_t left = total;
    double sum = 0;
    for (std::size_t r = 0; r < n; ++r) {
      if (held[r])
        left -= least;
      else
        sum += std::max(weights[r], 0.0);
    }
    std::size_t free_ranks = 0;
    for (std::size_t r = 0; r < n; ++r)
      free_ranks += held[r] ? 0 : 1;
    for (std::size_t r = 0; r < n; ++r) {
      if (held[r]) {
        ideal[r] = static_cast<double>(least);
        continue;
      }
      ideal[r] = sum > 0 ? static_cast<double>(left) * std::max(weights[r], 0.0) / sum
                         : static_cast<double>(left) / static_cast<double>(free_ranks);
      if (ideal[r] < static_cast<double>(least)) {
        held[r] = true;
        changed = true;
      }
    }
  }
  // Whole samples by largest remainders (ties to the lower rank); they add up to `total`.
  std::vector<std::size_t> out(n);
  std::vector<std::pair<double, std::size_t>> remainders;
  std::size_t given = 0;
  for (std::size_t r = 0; r < n; ++r) {
    out[r] = std::min(static_cast<std::size_t>(ideal[r]), total - given);
    given += out[r];
    remainders.emplace_back(ideal[r] - static_cast<double>(out[r]), r);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; given < total; k = (k + 1) % n, ++given)
    ++out[remainders[k].second];
  return out;
}

namespace {

/// The shares of `total` among the ranks with a positive weight (cut_shares); the others get none.
std::vector<std::size_t> cut_among_present(std::size_t total, const std::vector<double>& weights,
                                           std::size_t floor_share) {
  std::vector<double> sub;
  for (double w : weights)
    if (w > 0)
      sub.push_back(w);
  if (sub.size() == weights.size())
    return cut_shares(total, weights, floor_share);
  const auto cut = cut_shares(total, sub, floor_share);
  std::vector<std::size_t> out(weights.size(), 0);
  for (std::size_t r = 0, k = 0; r < weights.size(); ++r)
    if (weights[r] > 0)
      out[r] = cut[k++];
  return out;
}

} // namespace

loader_core::loader_core(std::size_t dataset_size, std::size_t trainers, std::size_t batch_size, std::uint64_t seed,
                         std::size_t epochs, balance_options balance)
    : n_(dataset_size), batch_(batch_size), epochs_(epochs), seed_(seed), cursors_(trainers),
      shard_epoch_(trainers, std::numeric_limits<std::size_t>::max()), shards_(trainers), balance_(balance),
      speed_(trainers) {
  TROUPE_ENFORCE(balance_.every_clocks > 0, "balance.every_clocks must be positive");
  TROUPE_ENFORCE(balance_.present.empty() || balance_.present.size() == trainers,
                 "presence given for {} trainers, the job has {}", balance_.present.size(), trainers);
  present_ = balance_.present.empty() ? std::vector<bool>(trainers, true) : balance_.present;
  TROUPE_ENFORCE(std::find(present_.begin(), present_.end(), true) != present_.end(),
                 "no trainer is present at the start");
  cutting_ = balance_.speed || std::find(present_.begin(), present_.end(), false) != present_.end();
  TROUPE_ENFORCE(trainers > 0 && batch_size > 0, "the loader needs trainers > 0 and batch size > 0");
  TROUPE_ENFORCE(dataset_size >= trainers, "{} samples cannot feed {} trainers", dataset_size, trainers);
  const std::size_t largest = (n_ + trainers - 1) / trainers;
  steps_per_epoch_ = (largest + batch_ - 1) / batch_;
}

const std::vector<std::size_t>& loader_core::shard(std::size_t rank, std::size_t epoch) {
  if (shard_epoch_[rank] != epoch) {
    data::distributed_sampler s(n_, cursors_.size(), rank, true, seed_, false, false);
    s.set_epoch(epoch);
    shards_[rank] = s.indices();
    shard_epoch_[rank] = epoch;
  }
  return shards_[rank];
}

std::optional<batch_plan> loader_core::next(std::size_t rank) {
  TROUPE_ENFORCE(rank < cursors_.size(), "trainer rank {} out of range ({} trainers)", rank, cursors_.size());
  cursor& c = cursors_[rank];
  if (c.epoch >= epochs_)
    return std::nullopt;
  batch_plan plan{c.epoch, c.step, {}};
  if (cutting_) {
    plan.indices = balanced(rank, c);
  } else {
    const auto& s = shard(rank, c.epoch);
    const std::size_t lo = std::min(c.step * batch_, s.size()), hi = std::min(lo + batch_, s.size());
    plan.indices.assign(s.begin() + static_cast<std::ptrdiff_t>(lo), s.begin() + static_cast<std::ptrdiff_t>(hi));
  }
  if (++c.step == steps_per_epoch_) {
    c.step = 0;
    ++c.epoch;
  }
  // Backup trainers: samples of rounds that closed without their trainer ride along, never back
  // to the trainer that was late with them: at most half a batch per batch, or — so that what is
  // owed is served before the job ends — what is owed spread over the batches this trainer has
  // left, this one included (at most two batches' worth).
  const std::uint64_t left = std::uint64_t{epochs_} * steps_per_epoch_ - (c.epoch * steps_per_epoch_ + c.step) + 1;
  const auto owed_here = static_cast<std::uint64_t>(
      std::count_if(owed_.begin(), owed_.end(), [&](const owed_sample& o) { return o.from_rank != rank; }));
  const std::size_t cap = std::max<std::size_t>(
      std::max<std::size_t>(1, batch_ / 2),
      static_cast<std::size_t>(std::min<std::uint64_t>((owed_here + left - 1) / left, 2 * std::uint64_t{batch_})));
  for (auto it = owed_.begin(); it != owed_.end() && plan.extra < cap;) {
    if (it->from_rank == rank) {
      ++it;
      continue;
    }
    plan.indices.push_back(it->index);
    ++plan.extra;
    ++owed_served_;
    it = owed_.erase(it);
  }
  return plan;
}

std::size_t loader_core::owe(std::size_t rank, std::uint64_t from, std::uint64_t to) {
  TROUPE_ENFORCE(rank < cursors_.size(), "trainer rank {} out of range ({} trainers)", rank, cursors_.size());
  if (!balance_.keep_late || !cutting_)
    return 0;
  const std::uint64_t oldest = slowest_clock();
  std::size_t queued = 0;
  for (std::uint64_t clock = from; clock < to; ++clock) {
    const cursor c{static_cast<std::size_t>(clock / steps_per_epoch_),
                   static_cast<std::size_t>(clock % steps_per_epoch_)};
    const std::uint64_t period = clock / balance_.every_clocks;
    // A clock behind every trainer whose cut is forgotten: its shares cannot be recomputed (a cut
    // decided now would split it another way), so they stay lost.
    const bool forgotten = clock < oldest && held_.count(period) == 0 && cuts_.count(period) == 0;
    if (c.epoch >= epochs_ || forgotten || !owed_clocks_.insert({rank, clock}).second)
      continue;
    const auto share = balanced(rank, c); // the very share rank had (or would have had) at that clock
    for (std::size_t i : share)
      owed_.push_back({i, rank});
    queued += share.size();
  }
  owed_total_ += queued;
  // (rank, clock) pairs far behind every trainer cannot come again.
  for (auto it = owed_clocks_.begin(); it != owed_clocks_.end();)
    it = it->second + 4 * kept_periods * balance_.every_clocks < oldest ? owed_clocks_.erase(it) : std::next(it);
  return queued;
}

void loader_core::join(std::size_t rank) {
  TROUPE_ENFORCE(rank < present_.size(), "trainer rank {} out of range ({} trainers)", rank, present_.size());
  present_[rank] = true;
}

void loader_core::observe(std::size_t rank, std::size_t samples, double compute_s) {
  TROUPE_ENFORCE(rank < speed_.size(), "trainer rank {} out of range ({} trainers)", rank, speed_.size());
  if (samples == 0 || !(compute_s > 0) || !std::isfinite(compute_s))
    return;
  auto& r = speed_[rank];
  const double k = r.seconds > 0 ? balance_.smoothing : 1.0; // the first step sets both sums
  r.samples = k * static_cast<double>(samples) + (1 - k) * r.samples;
  r.seconds = k * compute_s + (1 - k) * r.seconds;
}

std::vector<balance_cut> loader_core::take_decided() {
  return std::exchange(decided_, {});
}

void loader_core::hold(const std::vector<balance_cut>& cuts) {
  const std::size_t n = cursors_.size();
  for (const auto& cut : cuts) {
    TROUPE_ENFORCE(cut.from_clock % balance_.every_clocks == 0,
                   "a cut from clock {} does not start a period of balance.every_clocks = {}", cut.from_clock,
                   balance_.every_clocks);
    TROUPE_ENFORCE(cut.shares.size() == n && cut.weights.size() == n,
                   "the cut from clock {} has {} shares and {} weights, the job has {} trainers", cut.from_clock,
                   cut.shares.size(), cut.weights.size(), n);
    std::size_t sum = 0;
    for (auto v : cut.shares)
      sum += v;
    TROUPE_ENFORCE(sum == n * batch_, "the cut from clock {} shares {} samples, the global batch is {}", cut.from_clock,
                   sum, n * batch_);
  }
  for (const auto& cut : cuts)
    held_[cut.from_clock / balance_.every_clocks] = cut;
}

const std::vector<std::size_t>& loader_core::order(std::size_t epoch) {
  auto it = orders_.find(epoch);
  if (it == orders_.end()) {
    data::distributed_sampler s(n_, 1, 0, true, seed_, false, false);
    s.set_epoch(epoch);
    it = orders_.emplace(epoch, s.indices()).first;
    // Keep only the epochs some trainer is still in (or past the oldest of them).
    std::size_t oldest = epoch;
    for (const auto& c : cursors_)
      oldest = std::min(oldest, c.epoch);
    orders_.erase(orders_.begin(), orders_.lower_bound(oldest));
  }
  return it->second;
}

const balance_cut& loader_core::cut_for(std::uint64_t clock) {
  const std::uint64_t period = clock / balance_.every_clocks;
  if (auto h = held_.find(period); h != held_.end())
    return h->second;
  auto it = cuts_.find(period);
  if (it != cuts_.end())
    return it->second;
  balance_cut cut;
  cut.from_clock = period * balance_.every_clocks;
  bool measured = balance_.speed;
  for (std::size_t r = 0; r < speed_.size(); ++r)
    measured = measured && (!present_[r] || speed_[r].per_second() > 0);
  cut.weights.assign(speed_.size(), 0.0);
  for (std::size_t r = 0; r < speed_.size(); ++r)
    if (present_[r])
      cut.weights[r] = measured ? speed_[r].per_second() : 1.0;
  const std::size_t n = cursors_.size();
  const auto floor_share = static_cast<std::size_t>(balance_.floor * static_cast<double>(batch_));
  cut.shares = cut_among_present(n * batch_, cut.weights, floor_share);
  decided_.push_back(cut);
  it = cuts_.emplace(period, std::move(cut)).first;
  // Periods behind every trainer are done with (with keep_late, kept a while longer: owe() asks
  // for the shares of rounds the others have moved past).
  const std::uint64_t oldest = std::min(clock, slowest_clock());
  const std::uint64_t behind = oldest / balance_.every_clocks, keep = balance_.keep_late ? kept_periods : 0;
  cuts_.erase(cuts_.begin(), cuts_.lower_bound(behind > keep ? behind - keep : 0));
  return it->second;
}

std::vector<std::size_t> loader_core::balanced(std::size_t rank, const cursor& c) {
  const std::uint64_t clock = c.epoch * steps_per_epoch_ + c.step;
  const auto& cut = cut_for(clock);
  const auto& perm = order(c.epoch);
  const std::size_t global = cursors_.size() * batch_;
  const std::size_t lo = std::min(c.step * global, n_), hi = std::min(lo + global, n_);
  // A full chunk uses the period's shares; the epoch's short last chunk is cut anew by the same weights.
  const auto floor_share = static_cast<std::size_t>(balance_.floor * static_cast<double>(batch_));
  const auto shares = hi - lo == global ? cut.shares : cut_among_present(hi - lo, cut.weights, floor_share);
  std::size_t from = lo;
  for (std::size_t q = 0; q < rank; ++q)
    from += shares[q];
  return {perm.begin() + static_cast<std::ptrdiff_t>(from),
          perm.begin() + static_cast<std::ptrdiff_t>(from + shares[rank])};
}

std::uint64_t loader_core::slowest_clock() const {
  std::uint64_t oldest = std::numeric_limits<std::uint64_t>::max();
  for (const auto& c : cursors_)
    oldest = std::min<std::uint64_t>(oldest, c.epoch * steps_per_epoch_ + c.step);
  return oldest;
}

void loader_core::seek(std::size_t rank, std::uint64_t clock) {
  TROUPE_ENFORCE(rank < cursors_.size(), "trainer rank {} out of range ({} trainers)", rank, cursors_.size());
  cursors_[rank] = {static_cast<std::size_t>(clock / steps_per_epoch_),
                    static_cast<std::size_t>(clock % steps_per_epoch_)};
}

} // namespace troupe::ps
