#include "actors/trainer_actor.hpp"

#include <chrono>
#include <iostream>
#include <thread>

#include <caf/all.hpp>
#include <caf/blocking_actor.hpp>

#include "common/error.hpp"
#include "ps/liveness.hpp"
#include "ps/progress_meter.hpp"
#include "ps/trainer_core.hpp"
#include "runtime/messages.hpp"
#include "runtime/metrics_actor.hpp"
#include "runtime/span_log.hpp"
#include "train/gradient_engine.hpp"

namespace troupe::actors {

namespace {

using clock_type = std::chrono::steady_clock;
using runtime::span_log;

/// The actor half of a trainer: a blocking loop that feeds its ps::trainer_core with what
/// arrives, computes the clocks the core allows and sends what the core says.
class trainer_loop {
public:
  trainer_loop(caf::blocking_actor* self, std::shared_ptr<const runtime::node_context> ctx, trainer_options o)
      : self_(self), ctx_(std::move(ctx)), o_(o), name_(ps::trainer_name(o.rank)),
        engine_(ctx_->model, ctx_->topo.job.seed, ctx_->where.trainer_threads.at(o.rank)),
        ranges_(ps::plan_shards(engine_.layout().total, ctx_->where.shards())),
        core_(o.rank, engine_.layout().total, o.prefetch, ctx_->topo.job.compression, ranges_) {}

  void run() {
    if (!handshake())
      return;
    ask(core_.request(o_.prefetch));
    period_start_ = clock_type::now(); // the first record's period starts with the first request
    const auto print_freq = ctx_->topo.metrics.print_freq;
    while (!core_.finished() && !shutdown_) {
      wait_until([&] { return core_.allowed(); },
                 "the aggregator's parameters for clock " + std::to_string(core_.clock()));
      wait_for_batch();
      if (shutdown_)
        break;
      drain(); // read the freshest parameters that already arrived (ssp/asp read without waiting)
      if (!core_.allowed() || !core_.has_batch())
        continue; // a re-sync moved our clock while draining
      const auto b = core_.take_batch();
      ctx_->prefetch->set(name_, core_.prefetched());
      if (o_.fail_at_clock >= 0 && core_.clock() == static_cast<std::uint64_t>(o_.fail_at_clock))
        throw error(fmt::format("injected failure at clock {} (test hook)", core_.clock()));
      step(b);
      if (o_.failed_at > 0) // the first step after a restart: the trainer has recovered
        report_recovered();
      if (print_freq > 0 && (core_.clock() % print_freq == 0 || core_.finished()))
        report();
    }
    if (o_.fail_at_clock >= 0 && core_.finished() && core_.clock() == static_cast<std::uint64_t>(o_.fail_at_clock))
      throw error(fmt::format("injected failure after the last clock {} (test hook)", core_.clock()));
    // Stay until the aggregator says the job is over, so no message is left unanswered. Others
    // may train for a long time yet: wait as long as the aggregator answers (every hello retry
    // brings a welcome back), not for a fixed time.
    wait_until([&] { return shutdown_; }, "the aggregator's shutdown");
  }

private:
  void on_message(const net::message& m) {
    if (ctx_->where.hosts_shard(m.h.sender))
      aggregators_.heard(m.h.sender, clock_type::now());
    // Only the actor itself may read its mailbox (runtime/queue_gauges.hpp).
    ctx_->mailboxes->set(name_, self_->mailbox().size());
    handle(m);
    ctx_->prefetch->set(name_, core_.prefetched());
  }

  /// Receives for up to `timeout`; false when nothing arrived.
  bool receive_for(std::chrono::milliseconds timeout) {
    bool got = true;
    self_->receive([&](runtime::inbound& in) { on_message(*in.msg); }, [&](runtime::stop_atom) { stop_locally(); },
                   [&](runtime::restart_atom) { shutdown_ = true; }, caf::after(timeout) >> [&] { got = false; });
    return got;
  }

  /// Receives until `ready()` holds. Gives up with an error only when the aggregator (any one of
  /// its shards: the trainer needs all of them) has been silent for the idle limit: a live
  /// aggregator answers every hello retry.
  template <class Ready>
  void wait_until(Ready ready, const std::string& what) {
    const auto& c = ctx_->topo.cluster;
    // Silence that long means the aggregator is gone (or cut off): an evaluation or a checkpoint
    // never takes it, and every hello retry below is answered by a live aggregator.
    const auto limit = std::chrono::duration<double>(c.aggregator_gone_after_s());
    // Waiting longer than a few heartbeats: say hello again. A live aggregator answers with our
    // clock and the current parameters (harmless); a restarted one needs every trainer's hello
    // before it resumes from its checkpoint and re-syncs everyone.
    const auto retry = std::chrono::duration<double>(std::max(2.0, 3 * c.heartbeat_s));
    const auto t0 = clock_type::now();
    const auto w0 = span_log::wall::now();
    auto said_hello = t0;
    const bool waited = !ready();
    while (!ready() && !shutdown_) {
      receive_for(std::chrono::milliseconds(200));
      const auto now = clock_type::now();
      if (const auto gone = aggregators_.longest_silent(shard_nodes_, t0, now, limit))
        throw error(fmt::format("trainer {} on node '{}': waited for {}, and {} has been silent for {:.0f} s", o_.rank,
                                ctx_->node, what, ctx_->where.aggregator_on(gone->node), gone->silent_s));
      if (now - said_hello > retry && !ready()) {
        say_hello();
        said_hello = now;
      }
    }
    meter_.waited_params(std::chrono::duration<double>(clock_type::now() - t0).count());
    if (waited)
      spans_.add("wait_params", w0, span_log::wall::now());
  }

  /// Says hello to every aggregator shard (one unless sharded).
  void say_hello() {
    for (std::size_t s = 0; s < ranges_.size(); ++s)
      ctx_->send(ctx_->where.shard_nodes[s],
                 encode(ps::hello{o_.rank, ctx_->job_fingerprint, false, core_.clock()}, ps::aggregator_shard_name(s)));
  }

  /// This node is stopping (signal or a failed sibling): tell the aggregator, which ends the job.
  /// (A restart_atom from the supervisor ends this trainer without telling anyone: it is replaced.)
  void stop_locally() {
    if (!shutdown_)
      ctx_->send(ctx_->where.aggregator_node, encode(ps::shutdown{"stopped", o_.rank}, ps::aggregator_name));
    shutdown_ = true;
  }

  /// Handles every message already in the mailbox without waiting.
  void drain() {
    while (!shutdown_ && receive_for(std::chrono::milliseconds(0))) {
    }
  }

  /// Says hello until welcomed. An aggregator that is up but cannot start yet (it waits for the
  /// loader or other trainers) answers `waiting`: the trainer gives up only after
  /// connect_timeout_s without a word from an aggregator shard's node (one answering shard does
  /// not make up for a silent one: the trainer needs every shard's welcome).
  bool handshake() {
    const auto limit = std::chrono::duration<double>(ctx_->topo.cluster.connect_timeout_s);
    const auto t0 = clock_type::now();
    auto said_hello = t0 - std::chrono::seconds(1);
    while (!core_.welcomed() && !shutdown_) {
      // Once a second, not after every message: each hello to a shard that already welcomed the
      // trainer brings one more welcome, answered after the trainer has moved on.
      if (clock_type::now() - said_hello >= std::chrono::seconds(1)) {
        say_hello();
        said_hello = clock_type::now();
      }
      receive_for(std::chrono::milliseconds(200));
      if (core_.welcomed())
        break;
      if (const auto gone = aggregators_.longest_silent(shard_nodes_, t0, clock_type::now(), limit))
        throw error(fmt::format("trainer {} on node '{}': no welcome from {} after {:.0f} s (is it running and "
                                "reachable?)",
                                o_.rank, ctx_->node, ctx_->where.aggregator_on(gone->node), gone->silent_s));
    }
    return core_.welcomed();
  }

  void handle(const net::message& m) {
    // Parameters, welcomes and the end of the job come from the aggregator's nodes only, batches
    // from the loader's: a message as another node's actor is refused.
    const auto& where = ctx_->where;
    const bool from_aggregator = where.hosts_shard(m.h.sender);
    const bool expected = m.h.type == net::msg_type::batch ? m.h.sender == where.loader_node : from_aggregator;
    if (!expected) {
      ctx_->line(fmt::format("trainer {}: refused {} from node '{}' (only the {} node '{}' sends it)", o_.rank,
                             net::to_string(m.h.type), m.h.sender,
                             m.h.type == net::msg_type::batch ? "loader" : "aggregator",
                             m.h.type == net::msg_type::batch ? where.loader_node : where.aggregator_node));
      ++*ctx_->refused_unauthorized;
      return;
    }
    switch (m.h.type) {
    case net::msg_type::welcome: {
      const auto out = core_.on_welcome(ps::decode_welcome(m, range_of(m).size(), compression()));
      if (out.clock_moved) {
        ask(core_.pending_request());
        auto r = runtime::make_record(ctx_->node, name_, "trainer", core_.clock());
        r["event"] = "resync";
        r["target"] = name_;
        r["version"] = core_.version();
        ctx_->record(r.dump());
      }
      if (out.residual_reset)
        report_residual_reset(out);
      break;
    }
    case net::msg_type::params:
      core_.on_params(ps::decode_params(m, range_of(m).size(), compression()));
      break;
    case net::msg_type::batch:
      core_.on_batch(std::make_shared<const net::message>(m));
      break;
    case net::msg_type::shutdown:
      shutdown_ = true;
      break;
    case net::msg_type::reject: // another job: restarting will not help (the supervisor escalates)
      throw error(fmt::format("trainer {} on node '{}': the aggregator refused it: {}", o_.rank, ctx_->node,
                              ps::decode_reject(m).reason));
    case net::msg_type::hello: // a (re)started aggregator asks who is there: answer now, not at the next retry
      say_hello();
      break;
    default:
      ctx_->line(
          fmt::format("trainer {}: ignoring unexpected {} from '{}'", o_.rank, net::to_string(m.h.type), m.h.sender));
    }
  }

  config::compression compression() const { return ctx_->topo.job.compression.mode; }

  /// The range of the parameters a welcome or params message carries: its shard's, which must be
  /// hosted by the node that sent it.
  const ps::shard_range& range_of(const net::message& m) const {
    const auto s = ps::shard_of(m, ranges_.size());
    if (ctx_->where.shard_nodes[s] != m.h.sender)
      throw error(fmt::format("trainer {}: {} as aggregator shard {} from node '{}', which does not host it", o_.rank,
                              net::to_string(m.h.type), s, m.h.sender));
    return ranges_[s];
  }

  /// Error feedback lost its residual: dropped at a re-sync that moved the clock, or never had the
  /// one of an earlier incarnation (trainer state is not checkpointed; docs/compression.md).
  void report_residual_reset(const ps::trainer_core::resync_result& out) {
    auto r = runtime::make_record(ctx_->node, name_, "trainer", core_.clock());
    r["event"] = "residual_reset";
    r["target"] = name_;
    if (out.first) {
      r["reason"] = "start";
    } else {
      r["reason"] = "resync";
      r["norm"] = out.residual_norm;
    }
    ctx_->record(r.dump());
    ctx_->line(out.first ? fmt::format("trainer {}: continues at clock {} with an empty error-feedback residual "
                                       "(a trainer's residual is not checkpointed)",
                                       o_.rank, core_.clock())
                         : fmt::format("trainer {}: re-synced to clock {}; dropped its error-feedback residual "
                                       "(L2 norm {:.4g})",
                                       o_.rank, core_.clock(), out.residual_norm));
  }

  void ask(std::optional<ps::batch_request> r) {
    if (!r)
      return;
    r->samples = last_samples_; // the loader's measure of this trainer's speed (job.balance: speed)
    r->compute_s = last_compute_s_;
    ctx_->send(ctx_->where.loader_node, encode(*r));
  }

  /// Waits for the batch of the current clock. If it does not come within a few heartbeat
  /// intervals (the loader restarted, or a request was lost), asks again from the current clock.
  void wait_for_batch() {
    const auto retry = std::chrono::duration<double>(std::max(2.0, 3 * ctx_->topo.cluster.heartbeat_s));
    const auto limit = std::chrono::duration<double>(std::max(60.0, 4 * ctx_->topo.cluster.connect_timeout_s));
    const auto t0 = clock_type::now();
    const auto w0 = span_log::wall::now();
    auto asked = t0;
    const bool waited = !core_.has_batch();
    while (!core_.has_batch() && !shutdown_) {
      receive_for(std::chrono::milliseconds(200));
      const auto now = clock_type::now();
      if (now - t0 > limit)
        throw error(
            fmt::format("trainer {} on node '{}': no batch for clock {} from the loader on node '{}' for {:.0f} s",
                        o_.rank, ctx_->node, core_.clock(), ctx_->where.loader_node, limit.count()));
      if (now - asked > retry && !core_.has_batch()) {
        ask(core_.request_again());
        asked = now;
      }
    }
    meter_.waited_batch(std::chrono::duration<double>(clock_type::now() - t0).count());
    if (waited)
      spans_.add("wait_batch", w0, span_log::wall::now());
  }

  void step(const ps::pending_batch& pb) {
    const auto t0 = clock_type::now();
    const auto w0 = span_log::wall::now();
    const auto& b = pb.b;
    auto grad = std::make_shared<std::vector<float>>(core_.params().size());
    train::batch_stats s;
    // The straggler hooks (ps/slowdown.hpp) stretch compute, and are reported as compute.
    const double slow = ps::slowdown{o_.slow_factor, o_.transient_slow}.factor_at(o_.rank, core_.clock());
    // With shards, each shard's push leaves as soon as backward has finished its range (the last
    // layers' first), overlapping the rest of backward — unless a straggler hook must hold it.
    const bool early = b.n > 0 && slow <= 1.0 && core_.pushes_early() && !o_.push_after_backward;
    std::size_t early_bytes = 0;
    std::optional<span_log::wall::time_point> first_push, last_push;
    if (b.n > 0) {
      TROUPE_ENFORCE(b.images.size == b.n * tensor::numel(ctx_->model.input_shape),
                     "trainer {}: batch from '{}' has {} image values for n = {}", o_.rank, pb.msg->h.sender,
                     b.images.size, b.n);
      train::gradient_pieces pieces;
      pieces.begins.push_back(0);
      if (early) {
        pieces.begins.clear();
        for (const auto& r : ranges_)
          pieces.begins.push_back(r.begin);
        // Called one at a time, possibly from another compute thread, while this one waits.
        pieces.ready = [&](std::size_t shard, const train::batch_stats& sums) {
          first_push = first_push.value_or(span_log::wall::now());
          auto push = encode(core_.early_part(shard, sums.loss_sum, sums.n, sums.correct1, sums.correct5, grad));
          early_bytes += push.payload_bytes();
          ctx_->send(ctx_->where.shard_nodes[shard], std::move(push));
          last_push = span_log::wall::now();
        };
      }
      s = engine_.compute(core_.params().data(), b.images.data, b.labels.data, b.n, grad->data(), pieces);
    }
    if (slow > 1.0) {
      const double real = std::chrono::duration<double>(clock_type::now() - t0).count();
      std::this_thread::sleep_for(std::chrono::duration<double>(real * (slow - 1.0)));
    }
    const double compute = std::chrono::duration<double>(clock_type::now() - t0).count();
    const auto w1 = span_log::wall::now();
    const auto id = runtime::gradient_id(o_.rank, core_.clock());
    spans_.add("compute", w0, w1, id);
    if (early) { // every shard's part has left during compute
      core_.end_step();
      meter_.pushed(early_bytes);
      spans_.add("push", *first_push, *last_push, id);
    } else {
      // One push per aggregator shard, each viewing its range of the same gradient buffer.
      for (auto& part : core_.split(core_.complete_step(s.loss_sum, s.n, s.correct1, s.correct5, std::move(grad)))) {
        const auto shard = part.shard;
        auto push = encode(part);
        meter_.pushed(push.payload_bytes());
        ctx_->send(ctx_->where.shard_nodes[shard], std::move(push));
      }
      spans_.add("push", w1, span_log::wall::now(), id);
    }
    last_samples_ = s.n;
    last_compute_s_ = compute;
    ask(core_.request(1));
    ctx_->progress(o_.rank);
    meter_.computed(s.loss_sum, s.n, s.correct1, compute);
  }

  void report_recovered() {
    auto r = runtime::make_record(ctx_->node, name_, "trainer", core_.clock());
    r["event"] = "recovered";
    r["target"] = name_;
    r["recovery_s"] = std::chrono::duration<double>(span_log::wall::now().time_since_epoch()).count() - o_.failed_at;
    ctx_->record(r.dump());
    o_.failed_at = 0;
  }

  void report() {
    auto r = runtime::make_record(ctx_->node, name_, "trainer", core_.clock());
    const auto now = clock_type::now();
    r.update(meter_.take(std::chrono::duration<double>(now - period_start_).count()));
    period_start_ = now;
    r["clock"] = core_.clock();
    r["version_read"] = core_.version();
    r["staleness_bound"] = core_.gate().mode == config::consistency::ssp ? core_.gate().staleness : 0;
    if (const auto* c = core_.compressor())
      r["residual_norm"] = c->residual_norm();
    ctx_->record(r.dump());
    if (!spans_.empty()) {
      auto sp = runtime::make_record(ctx_->node, name_, "trainer", core_.clock());
      sp["event"] = "spans";
      sp["spans"] = spans_.take();
      ctx_->record(sp.dump());
    }
  }

  caf::blocking_actor* self_;
  std::shared_ptr<const runtime::node_context> ctx_;
  trainer_options o_;
  std::string name_;
  train::gradient_engine engine_;
  std::vector<ps::shard_range> ranges_; ///< the aggregator shards' ranges of the parameters
  ps::trainer_core core_;
  span_log spans_;
  /// When each aggregator shard's node was last heard from (a trainer needs every shard).
  ps::liveness aggregators_{std::chrono::duration<double>(0), std::string()};
  std::vector<std::string> shard_nodes_ = ctx_->where.shard_node_names();
  clock_type::time_point period_start_{}; ///< start of the period the next record covers
  bool shutdown_ = false;
  ps::trainer_meter meter_;
  std::size_t last_samples_ = 0; ///< the latest batch's samples and compute time
  double last_compute_s_ = 0;
};

void trainer_actor(caf::blocking_actor* self, std::shared_ptr<const runtime::node_context> ctx, trainer_options o) {
  try {
    trainer_loop(self, ctx, o).run();
  } catch (const std::exception& e) {
    std::cerr << fmt::format("troupe-node [{}]: trainer {} failed: {}\n", ctx->node, o.rank, e.what());
    self->fail_state(caf::make_error(caf::sec::runtime_error, e.what()));
  }
}

} // namespace

caf::actor spawn_trainer(caf::actor_system& sys, std::shared_ptr<const runtime::node_context> ctx, trainer_options o) {
  return sys.spawn(trainer_actor, std::move(ctx), o);
}

} // namespace troupe::actors
