#include "ps/aggregator_core.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace troupe::ps {

aggregator_core::aggregator_core(aggregator_options o, nn::param_layout layout, std::vector<float> params)
    : o_(std::move(o)), layout_(std::move(layout)), params_(std::move(params)),
      opt_(optim::make_optimizer(o_.optimizer)), schedule_(o_.schedule), clocks_(o_.trainers, 0),
      present_(o_.trainers, true), refused_in_a_row_(o_.trainers, 0), late_dropped_(o_.trainers, 0),
      round_sum_(params_.size(), 0.0f), round_grads_(o_.trainers), round_n_(o_.trainers, 0) {
  TROUPE_ENFORCE(o_.trainers > 0, "the aggregator needs at least one trainer");
  TROUPE_ENFORCE(params_.size() == layout_.total, "{} parameters for a layout of {}", params_.size(), layout_.total);
  TROUPE_ENFORCE(o_.max_refused_in_a_row > 0, "max_refused_in_a_row must be positive");
  TROUPE_ENFORCE(o_.backup_trainers == 0 || (o_.gate.synchronous() && o_.backup_trainers < o_.trainers),
                 "backup_trainers {} needs bsp and fewer backups than the {} trainers", o_.backup_trainers,
                 o_.trainers);
}

std::size_t aggregator_core::present_count() const {
  return static_cast<std::size_t>(std::count(present_.begin(), present_.end(), true));
}

std::uint64_t aggregator_core::min_clock() const {
  std::uint64_t m = ~std::uint64_t{0};
  for (std::size_t r = 0; r < clocks_.size(); ++r)
    if (present_[r])
      m = std::min(m, clocks_[r]);
  if (m == ~std::uint64_t{0}) // nobody present: the slowest of all
    m = *std::min_element(clocks_.begin(), clocks_.end());
  return m;
}

std::uint64_t aggregator_core::max_clock() const {
  return *std::max_element(clocks_.begin(), clocks_.end());
}

std::uint64_t aggregator_core::gate_clock() const {
  return backups() ? round_clock_ : min_clock();
}

std::uint64_t aggregator_core::late_dropped() const {
  std::uint64_t n = 0;
  for (auto d : late_dropped_)
    n += d;
  return n;
}

float aggregator_core::current_lr() const {
  // The schedule advances by clocks (one clock = one step of every trainer), so an epoch spans
  // the same part of the schedule whatever the consistency model.
  const std::uint64_t position = o_.gate.synchronous() ? version_ : version_ / o_.trainers;
  return schedule_.lr_at(position, o_.steps_per_epoch, total_clocks());
}

bool aggregator_core::may_start(std::size_t rank, std::uint64_t clock) const {
  TROUPE_ENFORCE(rank < clocks_.size(), "trainer rank {} out of range ({} trainers)", rank, clocks_.size());
  return clock < total_clocks() && o_.gate.allows(clock, gate_clock());
}

void aggregator_core::apply(const float* grad, float scale) {
  const float* g = grad;
  if (scale != 1.0f) {
    scratch_.assign(grad, grad + params_.size());
    for (auto& v : scratch_)
      v *= scale;
    g = scratch_.data();
  }
  std::vector<optim::param_slot> slots;
  slots.reserve(layout_.entries.size());
  for (const auto& e : layout_.entries)
    if (!e.buffer) // buffers (running statistics) are not optimized: they move by their update
      slots.push_back({e.name, params_.data() + e.offset, g + e.offset, e.size});
  opt_->step(slots, current_lr());
  nn::apply_buffer_updates(layout_, params_.data(), g, 1.0f);
  ++version_;
}

void aggregator_core::close_round_if_complete(push_outcome& out) {
  std::size_t present = 0, pushed = 0;
  for (std::size_t r = 0; r < o_.trainers; ++r) {
    if (!present_[r])
      continue;
    ++present;
    if (clocks_[r] > round_clock_)
      ++pushed;
  }
  if (present == 0)
    return; // nobody to gather from: the round waits for a trainer to be readmitted
  // Every present trainer; with backup trainers the first P − b (at least one).
  const std::size_t quorum = present > o_.backup_trainers ? present - o_.backup_trainers : 1;
  if (pushed < quorum)
    return;
  // Σ n_i · g_i in rank order (not arrival order), so a bsp run is deterministic, and the
  // sample-weighted mean applied once.
  std::size_t samples = 0;
  std::fill(round_sum_.begin(), round_sum_.end(), 0.0f);
  for (std::size_t r = 0; r < o_.trainers; ++r) {
    if (round_n_[r] == 0)
      continue;
    const float w = static_cast<float>(round_n_[r]);
    const float* g = round_grads_[r].data();
    for (std::size_t i = 0; i < round_sum_.size(); ++i)
      round_sum_[i] += w * g[i];
    samples += round_n_[r];
  }
  if (samples > 0) {
    apply(round_sum_.data(), 1.0f / static_cast<float>(samples));
    out.applied = 1;
  }
  const std::uint64_t closed = round_clock_++;
  round_count_ = 0;
  std::fill(round_n_.begin(), round_n_.end(), 0);
  for (std::size_t r = 0; r < o_.trainers; ++r) {
    if (present_[r]) {
      if (clocks_[r] > closed) // a late trainer (backup trainers) is still computing: released when it pushes
        out.released.push_back(r);
    } else { // an absent trainer's clock follows the rounds, as if it had pushed empty batches
      clocks_[r] = std::max(clocks_[r], round_clock_);
    }
  }
}

void aggregator_core::drop_late(std::size_t rank, std::uint64_t clock, push_outcome& out) {
  out.late = true;
  out.late_from = clock;
  out.late_to = round_clock_;
  ++late_dropped_[rank];
  clocks_[rank] = round_clock_; // it continues with the round being gathered
  if (round_clock_ == clock + 1)
    out.released.push_back(rank); // the clock it would start next anyway: fresh parameters suffice
  else
    out.resync.push_back(rank); // rounds closed without it meanwhile: it must skip their clocks
}

void aggregator_core::release_unblocked(std::uint64_t min_before, std::size_t except, push_outcome& out) const {
  if (o_.gate.mode != config::consistency::ssp || min_clock() <= min_before)
    return;
  for (std::size_t r = 0; r < o_.trainers; ++r)
    if (r != except && present_[r] && clocks_[r] > min_before + o_.gate.staleness && may_start(r, clocks_[r]))
      out.released.push_back(r);
}

push_outcome aggregator_core::push(std::size_t rank, std::uint64_t clock, std::uint64_t version_read, std::size_t n,
                                   const float* grad) {
  TROUPE_ENFORCE(rank < clocks_.size(), "trainer rank {} out of range ({} trainers)", rank, clocks_.size());
  push_outcome out;
  if (clock < clocks_[rank]) { // a replay of a gradient already counted
    out.duplicate = true;
    return out;
  }
  TROUPE_ENFORCE(present_[rank],
                 "trainer {} pushed clock {} while it is not a member (its node was declared lost); "
                 "readmit it first",
                 rank, clock);
  TROUPE_ENFORCE(clock == clocks_[rank], "trainer {} pushed clock {} but its next clock is {}", rank, clock,
                 clocks_[rank]);
  TROUPE_ENFORCE(may_start(rank, clock), "trainer {} pushed clock {} beyond the staleness bound (slowest at {})", rank,
                 clock, gate_clock());
  TROUPE_ENFORCE(n == 0 || grad != nullptr, "trainer {} pushed clock {} with {} samples but no gradient", rank, clock,
                 n);
  if (backups() && clock < round_clock_) { // its round closed without it: not looked at, not applied
    drop_late(rank, clock, out);
    return out;
  }
  out.staleness = version_ >= version_read ? version_ - version_read : 0;
  // One vectorized pass; the per-parameter description only for a gradient it flags.
  if (o_.refuse_nonfinite && n > 0 && count_nonfinite(grad, params_.size()) > 0) {
    out.refused = true;
    out.nonfinite = describe_nonfinite(grad, layout_);
    out.refused_in_a_row = ++refused_in_a_row_[rank];
    out.escalate = out.refused_in_a_row >= o_.max_refused_in_a_row;
    n = 0; // from here on it counts as an empty batch: the clock is pushed, nothing is applied
  } else {
    refused_in_a_row_[rank] = 0;
  }
  const std::uint64_t min_before = min_clock();
  clocks_[rank] = clock + 1;

  if (o_.gate.synchronous()) {
    round_n_[rank] = n;
    if (n > 0)
      round_grads_[rank].assign(grad, grad + params_.size());
    ++round_count_;
    close_round_if_complete(out);
    return out;
  }

  if (n > 0) {
    // Weight 1/N, or the push's share of a cut global batch: the pushes of one clock move the
    // parameters as far as one bsp step would, so the learning rate means the same in every mode.
    const float weight = o_.global_batch > 0
                             ? static_cast<float>(static_cast<double>(n) / static_cast<double>(o_.global_batch))
                             : 1.0f / static_cast<float>(o_.trainers);
    apply(grad, weight);
    out.applied = 1;
  }
  out.released.push_back(rank); // the pusher always gets the fresh parameters back
  // The slowest trainer moved on: whoever was blocked on the bound and is now within it may start.
  release_unblocked(min_before, rank, out);
  return out;
}

push_outcome aggregator_core::remove_trainer(std::size_t rank) {
  TROUPE_ENFORCE(rank < clocks_.size(), "trainer rank {} out of range ({} trainers)", rank, clocks_.size());
  push_outcome out;
  if (!present_[rank])
    return out;
  const std::uint64_t min_before = min_clock();
  present_[rank] = false;
  if (o_.gate.synchronous())
    close_round_if_complete(out);
  else if (present_count() > 0)
    release_unblocked(min_before, rank, out);
  return out;
}

std::uint64_t aggregator_core::readmit_trainer(std::size_t rank) {
  TROUPE_ENFORCE(rank < clocks_.size(), "trainer rank {} out of range ({} trainers)", rank, clocks_.size());
  if (present_[rank])
    return clocks_[rank];
  if (o_.gate.synchronous()) {
    clocks_[rank] = std::max(clocks_[rank], round_clock_);
  } else if (present_count() > 0) {
    clocks_[rank] = std::max(clocks_[rank], min_clock());
  }
  present_[rank] = true;
  refused_in_a_row_[rank] = 0;
  return clocks_[rank];
}

void aggregator_core::restore(std::vector<float> params, const optim::optimizer_state& opt, std::uint64_t version,
                              std::vector<std::uint64_t> clocks) {
  TROUPE_ENFORCE(params.size() == params_.size(), "checkpoint has {} parameters, the model has {}", params.size(),
                 params_.size());
  TROUPE_ENFORCE(clocks.size() == clocks_.size(), "checkpoint has clocks for {} trainers, the job has {}",
                 clocks.size(), clocks_.size());
  opt_->load_state(opt);
  params_ = std::move(params);
  version_ = version;
  clocks_ = std::move(clocks);
  round_clock_ = *std::min_element(clocks_.begin(), clocks_.end());
  if (backups()) { // at a round boundary late trainers may be behind the rounds closed without them
    round_clock_ = *std::max_element(clocks_.begin(), clocks_.end());
    std::fill(clocks_.begin(), clocks_.end(), round_clock_);
  }
  round_count_ = 0;
  std::fill(round_n_.begin(), round_n_.end(), 0);
  std::fill(present_.begin(), present_.end(), true);
  std::fill(refused_in_a_row_.begin(), refused_in_a_row_.end(), 0);
  std::fill(late_dropped_.begin(), late_dropped_.end(), 0);
}

} // namespace troupe::ps
