#include "actors/loader_actor.hpp"

#include <chrono>
#include <iostream>

#include <caf/all.hpp>
#include <caf/stateful_actor.hpp>

#include "common/error.hpp"
#include "data/dataset.hpp"
#include "data/fashion_mnist.hpp"
#include "ps/loader_batch.hpp"
#include "ps/loader_core.hpp"
#include "ps/protocol.hpp"
#include "runtime/messages.hpp"
#include "runtime/metrics_actor.hpp"
#include "runtime/span_log.hpp"

namespace troupe::actors {

namespace {

using ps::loader_name;
using ps::trainer_name;
using runtime::inbound;
using runtime::make_record;
using runtime::span_log;
using runtime::stop_atom;
using runtime::tick_atom;

/// How often the loader checks that the aggregator's node still speaks: every heartbeat.
std::chrono::milliseconds liveness_interval(const runtime::node_context& ctx) {
  return std::chrono::milliseconds(std::max(100L, static_cast<long>(1000 * ctx.topo.cluster.heartbeat_s)));
}

struct loader_state {
  std::shared_ptr<const runtime::node_context> ctx;
  data::dataset train;
  data::augment_options augment; ///< job.augment, padding with the normalized zero
  std::unique_ptr<ps::loader_core> core;
  std::uint64_t batches_sent = 0;
  span_log spans;
  std::size_t requests = 0;
  std::uint64_t requests_seen = 0; ///< batch requests received (for the failure test hook)
  std::uint64_t reported_batches = 0;
  std::chrono::steady_clock::time_point reported_at = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  /// The last word from the aggregator's node (its runtime's heartbeats, its hellos and shutdown).
  std::chrono::steady_clock::time_point heard_aggregator = std::chrono::steady_clock::now();
};

/// job.balance: speed: one `balance` event per new cut (its first clock, the shares, the speeds),
/// and the cuts to the aggregator, which keeps those in use in its checkpoints.
void record_cuts(loader_state& st) {
  auto cuts = st.core->take_decided();
  if (cuts.empty())
    return;
  st.ctx->send(st.ctx->where.aggregator_node, encode(ps::balance_cuts{cuts, false}, ps::aggregator_name));
  for (const auto& cut : cuts) {
    auto r = make_record(st.ctx->node, loader_name, "loader", cut.from_clock);
    r["event"] = "balance";
    r["from_clock"] = cut.from_clock;
    r["shares"] = cut.shares;
    r["samples_per_s"] = cut.weights;
    st.ctx->record(r.dump());
  }
}

void serve_batches(loader_state& st, std::size_t rank, std::size_t credits);

void report_spans(loader_state& st) {
  if (st.spans.empty())
    return;
  auto r = make_record(st.ctx->node, loader_name, "loader", st.batches_sent);
  r["event"] = "spans";
  r["spans"] = st.spans.take();
  st.ctx->record(r.dump());
}

void serve(loader_state& st, std::size_t rank, std::size_t credits) {
  const auto w0 = span_log::wall::now();
  serve_batches(st, rank, credits);
  st.spans.add("serve", w0, span_log::wall::now(), trainer_name(rank));
  if (++st.requests % 200 == 0)
    report_spans(st);
  // Progress every 100 batches: rate, what is in flight, and where each trainer's cursor is.
  if (st.batches_sent >= st.reported_batches + 100) {
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - st.reported_at).count();
    auto r = make_record(st.ctx->node, loader_name, "loader", st.batches_sent);
    r["batches_sent"] = st.batches_sent;
    r["batches_per_s"] = static_cast<double>(st.batches_sent - st.reported_batches) / std::max(secs, 1e-9);
    nlohmann::json cursors = nlohmann::json::array();
    for (std::size_t k = 0; k < st.core->trainers(); ++k)
      cursors.push_back({st.core->position(k).epoch, st.core->position(k).step});
    r["cursors"] = cursors; // per rank: [epoch, step] of the next batch to send
    st.ctx->record(r.dump());
    st.reported_batches = st.batches_sent;
    st.reported_at = now;
  }
}

void serve_batches(loader_state& st, std::size_t rank, std::size_t credits) {
  const auto& ctx = *st.ctx;
  TROUPE_ENFORCE(rank < ctx.where.trainers(), "batch request from trainer rank {} but the job has {} trainers", rank,
                 ctx.where.trainers());
  for (std::size_t k = 0; k < credits; ++k) {
    auto plan = st.core->next(rank);
    if (!plan)
      return;
    // Augmented here, on the loader, off the trainers' critical path (nothing to do without job.augment).
    const ps::batch b = ps::make_batch(st.train, *plan, st.core->steps_per_epoch(), st.augment, ctx.topo.job.seed);
    ctx.send(ctx.where.trainer_nodes[rank], encode(b, trainer_name(rank)));
    ++st.batches_sent;
  }
}

/// The loader joins like a trainer: it tells the aggregator its job fingerprint, and the job does
/// not start with a loader of another job (another seed would silently change every batch).
void say_hello(const runtime::node_context& c) {
  c.send(c.where.aggregator_node, encode(ps::hello{0, c.job_fingerprint, true}, ps::aggregator_name));
}

void on_message(caf::stateful_actor<loader_state>* self, const net::message& m, std::int64_t fail_after_requests) {
  auto& s = self->state;
  if (m.h.sender == s.ctx->where.aggregator_node)
    s.heard_aggregator = std::chrono::steady_clock::now();
  try {
    if (m.h.type == net::msg_type::request_batches) {
      if (fail_after_requests >= 0 && s.requests_seen++ == static_cast<std::uint64_t>(fail_after_requests)) {
        std::cerr << fmt::format("troupe-node [{}]: loader failed: injected failure at request {} (test hook)\n",
                                 s.ctx->node, fail_after_requests);
        self->quit(caf::make_error(caf::sec::runtime_error, "injected loader failure (test hook)"));
        return;
      }
      const auto r = ps::decode_batch_request(m);
      TROUPE_ENFORCE(r.rank < s.ctx->where.trainers(), "batch request from trainer rank {} but the job has {} trainers",
                     r.rank, s.ctx->where.trainers());
      // Only the node that runs a trainer may ask for its batches.
      TROUPE_ENFORCE(s.ctx->where.hosts_trainer(m.h.sender, r.rank),
                     "node '{}' asked for the batches of {}, which runs "
                     "on node '{}'",
                     m.h.sender, trainer_name(r.rank), s.ctx->where.trainer_nodes[r.rank]);
      s.core->join(r.rank);               // elastic: a trainer that took a free place shares the next cuts
      s.core->seek(r.rank, r.from_clock); // a trainer (re)starting at this clock: continue its shard there
      s.core->observe(r.rank, r.samples, r.compute_s);
      serve(s, r.rank, r.credits);
      record_cuts(s);
    } else if (m.h.type == net::msg_type::hello && m.h.sender == s.ctx->where.aggregator_node) {
      say_hello(*s.ctx); // a (re)started aggregator asks who is there
    } else if (m.h.type == net::msg_type::balance_cuts) {
      // The cuts a checkpoint recorded: the periods they cover are cut as they were before.
      TROUPE_ENFORCE(m.h.sender == s.ctx->where.aggregator_node, "only the aggregator's node '{}' gives cuts",
                     s.ctx->where.aggregator_node);
      const auto b = ps::decode_balance_cuts(m);
      if (b.late) { // backup trainers: a late trainer's shares of the rounds closed without it
        TROUPE_ENFORCE(b.late->rank < s.ctx->where.trainers(), "late shares of trainer rank {} but the job has {}",
                       b.late->rank, s.ctx->where.trainers());
        s.core->owe(b.late->rank, b.late->from_clock, b.late->to_clock);
        return;
      }
      s.core->hold(b.cuts);
      s.ctx->send(s.ctx->where.aggregator_node, encode(ps::balance_cuts{{}, true}, ps::aggregator_name));
    } else if (m.h.type == net::msg_type::reject && m.h.sender == s.ctx->where.aggregator_node) {
      const auto why = ps::decode_reject(m).reason;
      std::cerr << fmt::format("troupe-node [{}]: the aggregator refused this loader: {}\n", s.ctx->node, why);
      self->quit(caf::make_error(caf::sec::runtime_error, "refused by the aggregator: " + why));
    } else if (m.h.type == net::msg_type::shutdown) {
      TROUPE_ENFORCE(m.h.sender == s.ctx->where.aggregator_node, "only the aggregator's node '{}' ends the job",
                     s.ctx->where.aggregator_node);
      ps::decode_shutdown(m);
      auto r = make_record(s.ctx->node, loader_name, "loader", s.batches_sent);
      r["batches_sent"] = s.batches_sent;
      if (s.ctx->topo.job.backup_trainers > 0 && s.ctx->topo.job.balance.speed) {
        r["late_samples_owed"] = s.core->owed_samples();  // shares of rounds closed without their trainer
        r["late_samples_served"] = s.core->owed_served(); // of them, handed to the other trainers
      }
      r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.started).count();
      s.ctx->record(r.dump());
      report_spans(s);
      self->quit();
    }
  } catch (const std::exception& e) {
    // A bad request is refused, not fatal: the loader keeps serving the others.
    std::cerr << fmt::format("troupe-node [{}]: loader refused {} from '{}': {}\n", s.ctx->node,
                             net::to_string(m.h.type), m.h.sender, e.what());
  }
}

caf::behavior loader_actor(caf::stateful_actor<loader_state>* self, std::shared_ptr<const runtime::node_context> ctx,
                           std::int64_t fail_after_requests, const std::vector<ps::balance_cut>& replay) {
  try {
    auto& st = self->state;
    st.ctx = ctx;
    const auto& job = ctx->topo.job;
    const auto norm = data::fashion_mnist::normalization(job.data.normalize);
    st.train = data::load_fashion_mnist(job.data.dir, true, norm, job.data.max_train);
    st.augment = ps::loader_augment(job.augment, norm);
    ps::balance_options balance;
    balance.speed = job.balance.speed;
    balance.every_clocks = job.balance.every_clocks;
    balance.floor = job.balance.floor;
    balance.keep_late = job.backup_trainers > 0 && job.balance.speed;
    // An elastic job's free places are absent until a trainer process takes one (it asks for batches).
    for (std::size_t r = 0; r < ctx->where.trainers(); ++r)
      balance.present.push_back(!config::find_node(ctx->topo, ctx->where.trainer_nodes[r]).joins_later);
    st.core = std::make_unique<ps::loader_core>(st.train.n, ctx->where.trainers(), job.batch_size, job.seed, job.epochs,
                                                balance);
    st.core->hold(replay);
    say_hello(*ctx);
    if (ctx->where.aggregator_node != ctx->node)
      self->delayed_send(self, liveness_interval(*ctx), tick_atom::value);
  } catch (const std::exception& e) {
    // Exit with the cause as the reason (a rethrow would reach the supervisor as a bare
    // "runtime_error"), so its failure and escalation records and the node's exit say why.
    const auto why = fmt::format("loader failed to start: {}", e.what());
    std::cerr << fmt::format("troupe-node [{}]: {}\n", ctx->node, why);
    self->quit(caf::make_error(caf::sec::runtime_error, why));
    return {};
  }
  return {
      [=](inbound& in) {
        // Only the actor itself may read its mailbox (runtime/queue_gauges.hpp).
        self->state.ctx->mailboxes->set(loader_name, self->mailbox().size());
        on_message(self, *in.msg, fail_after_requests);
      },
      [=](tick_atom) {
        // A job always ends: an aggregator node gone for good (and its trainers gone with it, as
        // they give up on it) leaves the loader nobody to serve.
        auto& s = self->state;
        const auto& c = *s.ctx;
        const double silent =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - s.heard_aggregator).count();
        if (silent > c.topo.cluster.aggregator_gone_after_s() && self->mailbox().size() == 0) {
          const auto why =
              fmt::format("{} has been silent for {:.0f} s", c.where.aggregator_on(c.where.aggregator_node), silent);
          std::cerr << fmt::format("troupe-node [{}]: the loader ends: {}\n", c.node, why);
          report_spans(s);
          // user_shutdown: its supervisor ends the node with an error instead of restarting a loader
          // that would wait for the same silence.
          self->quit(caf::error(caf::exit_reason::user_shutdown));
          return;
        }
        self->delayed_send(self, liveness_interval(c), tick_atom::value);
      },
      [=](stop_atom) {
        // Stopped here (signal or a failed sibling): the aggregator ends the job for everyone.
        const auto& c = *self->state.ctx;
        c.send(c.where.aggregator_node, encode(ps::shutdown{"stopped", std::nullopt}, ps::aggregator_name));
        self->quit();
      },
  };
}

} // namespace

caf::actor spawn_loader(caf::actor_system& sys, std::shared_ptr<const runtime::node_context> ctx,
                        std::int64_t fail_after_requests, std::vector<ps::balance_cut> replay) {
  return sys.spawn<caf::detached>(loader_actor, std::move(ctx), fail_after_requests, std::move(replay));
}

} // namespace troupe::actors
