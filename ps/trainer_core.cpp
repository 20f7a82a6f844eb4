#include "ps/trainer_core.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::ps {

trainer_core::trainer_core(std::size_t rank, std::size_t params_size, std::size_t prefetch,
                           const config::compression_spec& compression, std::vector<shard_range> shards)
    : rank_(rank), params_size_(params_size), prefetch_(prefetch), params_(params_size, 0.0f) {
  TROUPE_ENFORCE(prefetch_ > 0, "a trainer needs at least one batch of prefetch");
  if (shards.empty())
    shards.push_back({0, params_size});
  std::size_t next = 0;
  for (const auto& r : shards) {
    TROUPE_ENFORCE(r.begin == next && r.end > r.begin, "aggregator shards must cover the parameters in order");
    next = r.end;
    shards_.push_back({r});
  }
  TROUPE_ENFORCE(next == params_size, "aggregator shards cover {} of {} parameters", next, params_size);
  if (compression.mode != config::compression::none)
    compressor_.emplace(compression, params_size);
}

std::uint64_t trainer_core::version() const {
  std::uint64_t v = ~std::uint64_t{0};
  for (const auto& s : shards_)
    v = std::min(v, s.version);
  return v;
}

std::uint64_t trainer_core::min_clock() const {
  std::uint64_t c = ~std::uint64_t{0};
  for (const auto& s : shards_)
    c = std::min(c, s.min_clock);
  return c;
}

trainer_core::resync_result trainer_core::on_welcome(const welcome& w) {
  TROUPE_ENFORCE(w.rank == rank_, "welcome for trainer {} delivered to trainer {}", w.rank, rank_);
  TROUPE_ENFORCE(w.shard < shards_.size(), "welcome from aggregator shard {} but the job has {}", w.shard,
                 shards_.size());
  resync_result out;
  auto& sv = shards_[w.shard];
  if (w.generation < generation_)
    return out; // a welcome from before a rewind the trainer already follows
  if (welcomed() && w.generation == generation_ && w.answers_clock && *w.answers_clock < clock_ && w.clock < clock_) {
    // The answer to a hello said at an earlier clock, overtaken by the pushes since: not a reason
    // to go back (that would redo clocks and, with compression, drop the residual). A push the
    // aggregator really lacks is noticed at the next hello, said at this clock.
    take(w.shard, w.params, w.version, w.min_clock, false);
    out.stale = true;
    return out;
  }
  generation_ = w.generation;
  sv.generation = w.generation;
  if (!welcomed()) {
    steps_per_epoch_ = w.steps_per_epoch;
    epochs_ = w.epochs;
    gate_ = w.gate;
    clock_ = w.clock; // a resumed run continues at the checkpointed clock
    next_request_ = clock_;
    take(w.shard, w.params, w.version, w.min_clock, false);
    if (!sv.welcomed) {
      sv.welcomed = true;
      ++welcomed_count_;
    }
    if (welcomed()) { // the last shard's welcome: training may start
      out.first = true;
      out.residual_reset = compressor_ && clock_ > 0; // continuing a run: whatever residual it had is gone
    }
    return out;
  }
  // A re-sync: take these parameters even if their version is lower (a rewound aggregator).
  out.clock_moved = w.clock != clock_;
  clock_ = w.clock;
  take(w.shard, w.params, w.version, w.min_clock, true);
  sv.min_clock = w.min_clock;
  for (auto it = batches_.begin(); it != batches_.end();)
    it = it->first < clock_ ? batches_.erase(it) : std::next(it);
  if (out.clock_moved) {
    next_request_ = clock_;
    owe_request_ = true;
    if (compressor_) {
      out.residual_reset = true;
      out.residual_norm = compressor_->reset();
    }
  }
  return out;
}

void trainer_core::on_params(const params_update& p) {
  TROUPE_ENFORCE(p.shard < shards_.size(), "parameters from aggregator shard {} but the job has {}", p.shard,
                 shards_.size());
  if (shards_[p.shard].generation < generation_)
    return; // that shard has not rewound yet: its parameters are from before the rewind
  take(p.shard, p.params, p.version, p.min_clock, false);
}

bool trainer_core::in_step() const {
  return std::all_of(shards_.begin(), shards_.end(), [&](const shard_view& s) { return s.generation == generation_; });
}

void trainer_core::take(std::size_t shard, const flat_f32& params, std::uint64_t version, std::uint64_t min_clock,
                        bool force) {
  auto& sv = shards_[shard];
  if (!force && sv.have_params && version < sv.version) {
    sv.min_clock = std::max(sv.min_clock, min_clock);
    return;
  }
  TROUPE_ENFORCE(params.size == sv.range.size(), "parameters of {} floats for {} of {}", params.size,
                 shards_.size() == 1 ? "a model" : fmt::format("aggregator shard {}'s range", shard), sv.range.size());
  std::copy(params.data, params.data + params.size, params_.begin() + static_cast<std::ptrdiff_t>(sv.range.begin));
  sv.version = version;
  sv.min_clock = std::max(sv.min_clock, min_clock);
  sv.have_params = true;
}

bool trainer_core::on_batch(std::shared_ptr<const net::message> msg) {
  auto b = decode_batch(*msg);
  if (b.clock < clock_ || batches_.count(b.clock) > 0)
    return false;
  const auto clock = b.clock;
  batches_.emplace(clock, pending_batch{std::move(msg), std::move(b)});
  return true;
}

pending_batch trainer_core::take_batch() {
  auto it = batches_.find(clock_);
  TROUPE_ENFORCE(it != batches_.end(), "trainer {}: no batch for clock {}", rank_, clock_);
  pending_batch b = std::move(it->second);
  batches_.erase(it);
  return b;
}

push trainer_core::complete_step(double loss_sum, std::size_t n, std::size_t correct1, std::size_t correct5,
                                 std::shared_ptr<const std::vector<float>> grad) {
  push p = whole_push(loss_sum, n, correct1, correct5, std::move(grad));
  if (n > 0 && compressor_)
    p.grad.packed = std::make_shared<const packed_f32>(compressor_->compress(p.grad.data));
  ++clock_;
  return p;
}

push trainer_core::whole_push(double loss_sum, std::size_t n, std::size_t correct1, std::size_t correct5,
                              std::shared_ptr<const std::vector<float>> grad) const {
  push p;
  p.rank = rank_;
  p.clock = clock_;
  p.version_read = shards_[0].version;
  p.loss_sum = loss_sum;
  p.n = n;
  p.correct1 = correct1;
  p.correct5 = correct5;
  if (n > 0) {
    TROUPE_ENFORCE(grad && grad->size() == params_size_, "trainer {}: a gradient of the wrong size", rank_);
    p.grad.size = grad->size();
    p.grad.data = grad->data();
    p.grad.shared = std::move(grad);
  }
  return p;
}

push trainer_core::part_of(const push& p, std::size_t s) const {
  push part = p;
  part.shard = s;
  part.version_read = shards_[s].version;
  if (p.n > 0) {
    part.grad.data = p.grad.data + shards_[s].range.begin;
    part.grad.size = shards_[s].range.size();
    if (p.grad.packed) // the one compressed gradient (error feedback over the whole vector), cut per range
      part.grad.packed = std::make_shared<const packed_f32>(
          slice_packed(*p.grad.packed, shards_[s].range.begin, shards_[s].range.end));
  }
  return part;
}

std::vector<push> trainer_core::split(push p) const {
  if (shards_.size() == 1)
    return {std::move(p)};
  std::vector<push> out;
  out.reserve(shards_.size());
  for (std::size_t s = 0; s < shards_.size(); ++s)
    out.push_back(part_of(p, s));
  return out;
}

push trainer_core::early_part(std::size_t shard, double loss_sum, std::size_t n, std::size_t correct1,
                              std::size_t correct5, std::shared_ptr<const std::vector<float>> grad) const {
  TROUPE_ENFORCE(pushes_early() && shard < shards_.size(), "trainer {}: no early push for shard {}", rank_, shard);
  return part_of(whole_push(loss_sum, n, correct1, correct5, std::move(grad)), shard);
}

std::optional<batch_request> trainer_core::request(std::size_t credits) {
  const std::uint64_t total = total_clocks();
  credits =
      static_cast<std::size_t>(std::min<std::uint64_t>(credits, total > next_request_ ? total - next_request_ : 0));
  if (credits == 0)
    return std::nullopt;
  batch_request r{rank_, credits, next_request_};
  next_request_ += credits;
  return r;
}

std::optional<batch_request> trainer_core::request_again() {
  next_request_ = clock_;
  return request(prefetch_);
}

std::optional<batch_request> trainer_core::pending_request() {
  if (!owe_request_)
    return std::nullopt;
  owe_request_ = false;
  return request(prefetch_);
}

} // namespace troupe::ps
