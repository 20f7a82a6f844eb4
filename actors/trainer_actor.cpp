#include "actors/trainer_actor.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <iostream>
#include <thread>

#include <caf/all.hpp>
#include <caf/blocking_actor.hpp>

#include "actors/messages.hpp"
#include "actors/metrics_actor.hpp"
#include "actors/protocol.hpp"
#include "actors/span_log.hpp"
#include "common/error.hpp"
#include "train/gradient_engine.hpp"

namespace troupe::actors {

namespace {

using clock_type = std::chrono::steady_clock;

struct pending_batch {
  std::shared_ptr<const net::message> msg;
  std::size_t n = 0;
};

class trainer_loop {
public:
  trainer_loop(caf::blocking_actor* self, std::shared_ptr<const node_context> ctx, trainer_options o)
      : self_(self), ctx_(std::move(ctx)), o_(o), name_(trainer_name(o.rank)),
        engine_(ctx_->model, ctx_->topo.job.seed, ctx_->where.trainer_threads.at(o.rank)) {}

  void run() {
    if (!handshake())
      return;
    const std::uint64_t total = steps_per_epoch_ * epochs_;
    total_ = total;
    next_request_ = clock_;
    request_batches(o_.prefetch);
    const auto print_freq = ctx_->topo.metrics.print_freq;
    while (clock_ < total && !shutdown_) {
      wait_until([&] { return allowed(clock_); }, "the aggregator's parameters for clock " + std::to_string(clock_));
      wait_for_batch();
      if (shutdown_)
        break;
      drain();  // read the freshest parameters that already arrived (ssp/asp read without waiting)
      if (!allowed(clock_) || batches_.count(clock_) == 0)
        continue;  // a re-sync moved our clock while draining
      pending_batch b = std::move(batches_.begin()->second);
      batches_.erase(batches_.begin());
      if (o_.fail_at_clock >= 0 && clock_ == static_cast<std::uint64_t>(o_.fail_at_clock))
        throw error(fmt::format("injected failure at clock {} (test hook)", clock_));
      step(b);
      if (o_.failed_at > 0) {  // the first step after a restart: the trainer has recovered
        auto r = make_record(ctx_->node, name_, "trainer", clock_);
        r["event"] = "recovered";
        r["target"] = name_;
        r["recovery_s"] = std::chrono::duration<double>(span_log::wall::now().time_since_epoch()).count() - o_.failed_at;
        ctx_->record(r.dump());
        o_.failed_at = 0;
      }
      if (print_freq > 0 && (clock_ % print_freq == 0 || clock_ == total))
        report();
    }
    // Stay until the aggregator says the job is over, so no message is left unanswered.
    wait_until([&] { return shutdown_; }, "the aggregator's shutdown", std::chrono::seconds(120));
  }

private:
  bool allowed(std::uint64_t clock) const {
    if (mode_ == "asp")
      return true;
    return clock <= min_clock_ + (mode_ == "ssp" ? staleness_ : 0);
  }

  /// Receives until `ready()` holds; an error after `limit` without any message.
  template <class Ready>
  void wait_until(Ready ready, const std::string& what, std::chrono::seconds limit = std::chrono::seconds(0)) {
    if (limit.count() == 0)
      limit = std::chrono::seconds(static_cast<long>(std::max(30.0, ctx_->topo.cluster.connect_timeout_s * 2)));
    // Waiting longer than a few heartbeats: say hello again. A live aggregator answers with our
    // clock and the current parameters (harmless); a restarted one needs every trainer's hello
    // before it resumes from its checkpoint and re-syncs everyone.
    const auto retry = std::chrono::duration<double>(std::max(2.0, 3 * ctx_->topo.cluster.heartbeat_s));
    const auto t0 = clock_type::now();
    const auto w0 = span_log::wall::now();
    auto said_hello = t0;
    const bool waited = !ready();
    while (!ready() && !shutdown_) {
      self_->receive([&](inbound& in) { handle(*in.msg); }, [&](stop_atom) { stop_locally(); }, [&](restart_atom) { shutdown_ = true; },
                     caf::after(std::chrono::milliseconds(200)) >> [] {});
      const auto now = clock_type::now();
      if (now - t0 > limit)
        throw error(fmt::format("trainer {} on node '{}': waited {} s for {} and nothing arrived", o_.rank,
                                ctx_->node, limit.count(), what));
      if (now - said_hello > retry && !ready()) {
        ctx_->send(ctx_->where.aggregator_node, make_message(net::msg_type::hello, aggregator_name, {{"rank", o_.rank}}));
        said_hello = now;
      }
    }
    wait_seconds_ += std::chrono::duration<double>(clock_type::now() - t0).count();
    if (waited)
      spans_.add("wait_params", w0, span_log::wall::now());
  }

  /// This node is stopping (signal or a failed sibling): tell the aggregator, which ends the job.
  /// (A restart_atom from the supervisor ends this trainer without telling anyone: it is replaced.)
  void stop_locally() {
    if (!shutdown_)
      ctx_->send(ctx_->where.aggregator_node,
                 make_message(net::msg_type::shutdown, aggregator_name, {{"rank", o_.rank}, {"reason", "stopped"}}));
    shutdown_ = true;
  }

  /// Handles every message already in the mailbox without waiting.
  void drain() {
    for (bool more = true; more && !shutdown_;) {
      self_->receive([&](inbound& in) { handle(*in.msg); }, [&](stop_atom) { stop_locally(); }, [&](restart_atom) { shutdown_ = true; },
                     caf::after(std::chrono::seconds(0)) >> [&] { more = false; });
    }
  }

  bool handshake() {
    const auto limit = std::chrono::duration<double>(ctx_->topo.cluster.connect_timeout_s);
    const auto t0 = clock_type::now();
    while (!welcomed_ && !shutdown_) {
      ctx_->send(ctx_->where.aggregator_node,
                 make_message(net::msg_type::hello, aggregator_name, {{"rank", o_.rank}}));
      self_->receive([&](inbound& in) { handle(*in.msg); }, [&](stop_atom) { stop_locally(); }, [&](restart_atom) { shutdown_ = true; },
                     caf::after(std::chrono::seconds(1)) >> [] {});
      if (!welcomed_ && clock_type::now() - t0 > limit)
        throw error(fmt::format("trainer {} on node '{}': no welcome from the aggregator on node '{}' after {:.0f} s "
                                "(is it running and reachable?)",
                                o_.rank, ctx_->node, ctx_->where.aggregator_node, limit.count()));
    }
    return welcomed_;
  }

  void handle(const net::message& m) {
    switch (m.h.type) {
    case net::msg_type::welcome: {
      if (welcomed_) {
        resync(m);
        break;
      }
      const auto meta = meta_of(m);
      steps_per_epoch_ = field<std::uint64_t>(meta, "steps_per_epoch", m);
      epochs_ = field<std::uint64_t>(meta, "epochs", m);
      mode_ = field<std::string>(meta, "mode", m);
      staleness_ = field<std::uint64_t>(meta, "staleness", m);
      clock_ = meta.value("clock", std::uint64_t{0});  // a resumed run continues at the checkpointed clock
      take_params(m);
      welcomed_ = true;
      break;
    }
    case net::msg_type::params:
      take_params(m);
      break;
    case net::msg_type::batch: {
      // Batches are keyed by their clock: one already used (sent to a previous incarnation, or
      // answered twice after a retried request) is dropped, a duplicate replaces nothing.
      if (m.h.step < clock_ || batches_.count(m.h.step) > 0)
        break;
      const auto meta = meta_of(m);
      batches_.emplace(m.h.step, pending_batch{std::make_shared<const net::message>(m), field<std::size_t>(meta, "n", m)});
      break;
    }
    case net::msg_type::shutdown:
      shutdown_ = true;
      break;
    case net::msg_type::hello:  // a (re)started aggregator asks who is there: answer now, not at the next retry
      ctx_->send(ctx_->where.aggregator_node, make_message(net::msg_type::hello, aggregator_name, {{"rank", o_.rank}}));
      break;
    default:
      ctx_->line(fmt::format("trainer {}: ignoring unexpected {} from '{}'", o_.rank, net::to_string(m.h.type),
                             m.h.sender));
    }
  }

  /// A welcome after the first: the aggregator (possibly restarted from a checkpoint) tells us our
  /// clock and the parameters; continue from there, re-asking the loader from that clock.
  void resync(const net::message& m) {
    const auto clock = meta_of(m).value("clock", std::uint64_t{0});
    const bool moved = clock != clock_;
    clock_ = clock;
    have_params_ = false;  // take these parameters even if their version is lower (a rewound aggregator)
    take_params(m);
    min_clock_ = m.h.clock;
    for (auto it = batches_.begin(); it != batches_.end();)
      it = it->first < clock_ ? batches_.erase(it) : std::next(it);
    if (moved) {
      next_request_ = clock_;
      request_batches(o_.prefetch);
      auto r = make_record(ctx_->node, name_, "trainer", clock_);
      r["event"] = "resync";
      r["target"] = name_;
      r["version"] = version_;
      ctx_->record(r.dump());
    }
  }

  void take_params(const net::message& m) {
    // Parameters may overtake each other only in asp; keep the newest version.
    if (have_params_ && m.h.step < version_) {
      min_clock_ = std::max(min_clock_, m.h.clock);
      return;
    }
    const auto v = flat_of(m, "params", engine_.layout().total);
    params_.assign(v.begin(), v.end());
    version_ = m.h.step;
    min_clock_ = std::max(min_clock_, m.h.clock);
    have_params_ = true;
  }

  /// Asks the loader for the batches of clocks [next_request_, next_request_ + credits): requests
  /// name their clocks, so they are idempotent and a restarted loader needs no state of ours.
  void request_batches(std::size_t credits) {
    credits = static_cast<std::size_t>(std::min<std::uint64_t>(credits, total_ > next_request_ ? total_ - next_request_ : 0));
    if (credits == 0)
      return;
    ctx_->send(ctx_->where.loader_node,
               make_message(net::msg_type::request_batches, loader_name,
                            {{"rank", o_.rank}, {"credits", credits}, {"from_clock", next_request_}}));
    next_request_ += credits;
  }

  /// Waits for the batch of the current clock. If it does not come within a few heartbeat
  /// intervals (the loader restarted, or a request was lost), asks again from the current clock.
  void wait_for_batch() {
    const auto retry = std::chrono::duration<double>(std::max(2.0, 3 * ctx_->topo.cluster.heartbeat_s));
    const auto limit = std::chrono::duration<double>(std::max(60.0, 4 * ctx_->topo.cluster.connect_timeout_s));
    const auto t0 = clock_type::now();
    const auto w0 = span_log::wall::now();
    auto asked = t0;
    const bool waited = batches_.count(clock_) == 0;
    while (batches_.count(clock_) == 0 && !shutdown_) {
      self_->receive([&](inbound& in) { handle(*in.msg); }, [&](stop_atom) { stop_locally(); }, [&](restart_atom) { shutdown_ = true; },
                     caf::after(std::chrono::milliseconds(200)) >> [] {});
      const auto now = clock_type::now();
      if (now - t0 > limit)
        throw error(fmt::format("trainer {} on node '{}': no batch for clock {} from the loader on node '{}' for {:.0f} s",
                                o_.rank, ctx_->node, clock_, ctx_->where.loader_node, limit.count()));
      if (now - asked > retry && batches_.count(clock_) == 0) {
        next_request_ = clock_;
        request_batches(o_.prefetch);
        asked = now;
      }
    }
    wait_seconds_ += std::chrono::duration<double>(clock_type::now() - t0).count();
    if (waited)
      spans_.add("wait_batch", w0, span_log::wall::now());
  }

  void step(const pending_batch& b) {
    const auto t0 = clock_type::now();
    const auto w0 = span_log::wall::now();
    auto grad = std::make_shared<std::vector<float>>(params_.size());
    train::batch_stats s;
    if (b.n > 0) {
      const auto images = b.msg->view<float>(0);
      const auto labels = b.msg->view<std::int32_t>(1);
      TROUPE_ENFORCE(labels.size == b.n && images.size == b.n * tensor::numel(ctx_->model.input_shape),
                     "trainer {}: batch from '{}' has {} images / {} labels for n = {}", o_.rank, b.msg->h.sender,
                     images.size, labels.size, b.n);
      s = engine_.compute(params_.data(), images.data, labels.data, b.n, grad->data());
    }
    if (o_.slow_factor > 1.0) {  // the straggler hook stretches compute, and is reported as compute
      const double real = std::chrono::duration<double>(clock_type::now() - t0).count();
      std::this_thread::sleep_for(std::chrono::duration<double>(real * (o_.slow_factor - 1.0)));
    }
    const double compute = std::chrono::duration<double>(clock_type::now() - t0).count();
    const auto w1 = span_log::wall::now();
    spans_.add("compute", w0, w1, gradient_id(o_.rank, clock_));
    auto m = make_message(net::msg_type::push_gradient, aggregator_name,
                          {{"rank", o_.rank}, {"version_read", version_}, {"loss_sum", s.loss_sum}, {"n", s.n},
                           {"correct1", s.correct1}, {"correct5", s.correct5}});
    m.h.clock = clock_;
    m.h.step = clock_;
    if (b.n > 0)
      add_flat(m, "grad", std::move(grad));
    ctx_->send(ctx_->where.aggregator_node, std::move(m));
    spans_.add("push", w1, span_log::wall::now(), gradient_id(o_.rank, clock_));
    request_batches(1);
    ++clock_;
    loss_sum_ += s.loss_sum;
    samples_ += s.n;
    correct1_ += s.correct1;
    compute_seconds_ += compute;
  }

  void report() {
    auto r = make_record(ctx_->node, name_, "trainer", clock_);
    const double n = static_cast<double>(std::max<std::size_t>(samples_, 1));
    r["loss"] = loss_sum_ / n;
    r["acc"] = static_cast<double>(correct1_) / n;
    r["images_per_s"] = compute_seconds_ > 0 ? static_cast<double>(samples_) / compute_seconds_ : 0.0;
    r["clock"] = clock_;
    r["version_read"] = version_;
    r["staleness_bound"] = mode_ == "ssp" ? staleness_ : 0;
    r["compute_s"] = compute_seconds_;
    r["wait_s"] = wait_seconds_;
    ctx_->record(r.dump());
    if (!spans_.empty()) {
      auto sp = make_record(ctx_->node, name_, "trainer", clock_);
      sp["event"] = "spans";
      sp["spans"] = spans_.take();
      ctx_->record(sp.dump());
    }
    loss_sum_ = 0;
    samples_ = correct1_ = 0;
    compute_seconds_ = wait_seconds_ = 0;
  }

  caf::blocking_actor* self_;
  std::shared_ptr<const node_context> ctx_;
  trainer_options o_;
  std::string name_;
  train::gradient_engine engine_;
  std::vector<float> params_;
  std::map<std::uint64_t, pending_batch> batches_;  ///< by clock
  std::uint64_t next_request_ = 0, total_ = 0;
  span_log spans_;
  std::string mode_ = "bsp";
  std::uint64_t steps_per_epoch_ = 0, epochs_ = 0, staleness_ = 0;
  std::uint64_t clock_ = 0, version_ = 0, min_clock_ = 0;
  bool welcomed_ = false, have_params_ = false, shutdown_ = false;
  double loss_sum_ = 0, compute_seconds_ = 0, wait_seconds_ = 0;
  std::size_t samples_ = 0, correct1_ = 0;
};

void trainer_actor(caf::blocking_actor* self, std::shared_ptr<const node_context> ctx, trainer_options o) {
  try {
    trainer_loop(self, ctx, o).run();
  } catch (const std::exception& e) {
    std::cerr << fmt::format("troupe-node [{}]: trainer {} failed: {}\n", ctx->node, o.rank, e.what());
    self->fail_state(caf::make_error(caf::sec::runtime_error, e.what()));
  }
}

} // namespace

caf::actor spawn_trainer(caf::actor_system& sys, std::shared_ptr<const node_context> ctx, trainer_options o) {
  return sys.spawn(trainer_actor, std::move(ctx), o);
}

} // namespace troupe::actors
