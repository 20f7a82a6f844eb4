#include "ps/trainer_core.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace troupe::ps {

trainer_core::trainer_core(std::size_t rank, std::size_t params_size, std::size_t prefetch,
                           const config::compression_spec& compression)
    : rank_(rank), params_size_(params_size), prefetch_(prefetch) {
  TROUPE_ENFORCE(prefetch_ > 0, "a trainer needs at least one batch of prefetch");
  if (compression.mode != config::compression::none)
    compressor_.emplace(compression, params_size);
}

trainer_core::resync_result trainer_core::on_welcome(const welcome& w) {
  TROUPE_ENFORCE(w.rank == rank_, "welcome for trainer {} delivered to trainer {}", w.rank, rank_);
  resync_result out;
  if (!welcomed_) {
    steps_per_epoch_ = w.steps_per_epoch;
    epochs_ = w.epochs;
    gate_ = w.gate;
    clock_ = w.clock; // a resumed run continues at the checkpointed clock
    next_request_ = clock_;
    take(w.params, w.version, w.min_clock, false);
    welcomed_ = true;
    out.first = true;
    out.residual_reset = compressor_ && clock_ > 0; // continuing a run: whatever residual it had is gone
    return out;
  }
  // A re-sync: take these parameters even if their version is lower (a rewound aggregator).
  out.clock_moved = w.clock != clock_;
  clock_ = w.clock;
  take(w.params, w.version, w.min_clock, true);
  min_clock_ = w.min_clock;
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
  take(p.params, p.version, p.min_clock, false);
}

void trainer_core::take(const flat_f32& params, std::uint64_t version, std::uint64_t min_clock, bool force) {
  if (!force && have_params_ && version < version_) {
    min_clock_ = std::max(min_clock_, min_clock);
    return;
  }
  TROUPE_ENFORCE(params.size == params_size_, "parameters of {} floats for a model of {}", params.size, params_size_);
  params_.assign(params.data, params.data + params.size);
  version_ = version;
  min_clock_ = std::max(min_clock_, min_clock);
  have_params_ = true;
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
  push p;
  p.rank = rank_;
  p.clock = clock_;
  p.version_read = version_;
  p.loss_sum = loss_sum;
  p.n = n;
  p.correct1 = correct1;
  p.correct5 = correct5;
  if (n > 0) {
    TROUPE_ENFORCE(grad && grad->size() == params_size_, "trainer {}: a gradient of the wrong size", rank_);
    p.grad.size = grad->size();
    p.grad.data = grad->data();
    p.grad.shared = std::move(grad);
    if (compressor_)
      p.grad.packed = std::make_shared<const packed_f32>(compressor_->compress(p.grad.data));
  }
  ++clock_;
  return p;
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
