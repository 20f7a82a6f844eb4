#include "actors/loader_actor.hpp"

#include <chrono>
#include <iostream>

#include <caf/all.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/loader_core.hpp"
#include "actors/messages.hpp"
#include "actors/metrics_actor.hpp"
#include "actors/protocol.hpp"
#include "actors/span_log.hpp"
#include "common/error.hpp"
#include "data/dataset.hpp"

namespace troupe::actors {

namespace {

struct loader_state {
  std::shared_ptr<const node_context> ctx;
  data::dataset train;
  std::unique_ptr<loader_core> core;
  std::uint64_t batches_sent = 0;
  span_log spans;
  std::size_t requests = 0;
  std::uint64_t requests_seen = 0;  ///< batch requests received (for the failure test hook)
  std::uint64_t reported_batches = 0;
  std::chrono::steady_clock::time_point reported_at = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

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
    r["cursors"] = cursors;  // per rank: [epoch, step] of the next batch to send
    st.ctx->record(r.dump());
    st.reported_batches = st.batches_sent;
    st.reported_at = now;
  }
}

void serve_batches(loader_state& st, std::size_t rank, std::size_t credits) {
  const auto& ctx = *st.ctx;
  TROUPE_ENFORCE(rank < ctx.where.trainers(), "batch request from trainer rank {} but the job has {} trainers", rank,
                 ctx.where.trainers());
  const std::size_t image = st.train.image_size();
  for (std::size_t k = 0; k < credits; ++k) {
    auto plan = st.core->next(rank);
    if (!plan)
      return;
    const std::size_t n = plan->indices.size();
    auto m = make_message(net::msg_type::batch, trainer_name(rank),
                          {{"epoch", plan->epoch}, {"step", plan->step}, {"n", n}});
    m.h.step = plan->epoch * st.core->steps_per_epoch() + plan->step;
    if (n > 0) {
      std::vector<float> images(n * image);
      std::vector<std::int32_t> labels(n);
      data::gather_batch(st.train, plan->indices.data(), n, images.data(), labels.data());
      m.add_tensor("images",
                   {static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(st.train.channels),
                    static_cast<std::uint32_t>(st.train.height), static_cast<std::uint32_t>(st.train.width)},
                   std::move(images));
      m.add_tensor("labels", {static_cast<std::uint32_t>(n)}, std::move(labels));
    }
    ctx.send(ctx.where.trainer_nodes[rank], std::move(m));
    ++st.batches_sent;
  }
}

caf::behavior loader_actor(caf::stateful_actor<loader_state>* self, std::shared_ptr<const node_context> ctx,
                           std::int64_t fail_after_requests) {
  try {
    auto& st = self->state;
    st.ctx = ctx;
    const auto& job = ctx->topo.job;
    data::normalization norm;
    if (job.data.normalize)
      norm = {true, 0.2860f, 0.3530f};
    st.train = data::load_fashion_mnist(job.data.dir, true, norm, job.data.max_train);
    st.core = std::make_unique<loader_core>(st.train.n, ctx->where.trainers(), job.batch_size, job.seed, job.epochs);
  } catch (const std::exception& e) {
    // Say why before CAF records a bare "unhandled exception" for the node.
    std::cerr << fmt::format("troupe-node [{}]: loader failed to start: {}\n", ctx->node, e.what());
    throw;
  }
  return {
      [=](inbound& in) {
        auto& s = self->state;
        const net::message& m = *in.msg;
        try {
          if (m.h.type == net::msg_type::request_batches) {
            if (fail_after_requests >= 0 && s.requests_seen++ == static_cast<std::uint64_t>(fail_after_requests)) {
              std::cerr << fmt::format("troupe-node [{}]: loader failed: injected failure at request {} (test hook)\n",
                                       s.ctx->node, fail_after_requests);
              self->quit(caf::make_error(caf::sec::runtime_error, "injected loader failure (test hook)"));
              return;
            }
            const auto meta = meta_of(m);
            const auto rank = field<std::size_t>(meta, "rank", m);
            if (meta.contains("from_clock")) {  // a trainer (re)starting at this clock: continue its shard there
              TROUPE_ENFORCE(rank < s.ctx->where.trainers(), "batch request from trainer rank {} but the job has {} trainers",
                             rank, s.ctx->where.trainers());
              s.core->seek(rank, field<std::uint64_t>(meta, "from_clock", m));
            }
            serve(s, rank, field<std::size_t>(meta, "credits", m));
          } else if (m.h.type == net::msg_type::shutdown) {
            auto r = make_record(s.ctx->node, loader_name, "loader", s.batches_sent);
            r["batches_sent"] = s.batches_sent;
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
      },
      [=](stop_atom) {
        // Stopped here (signal or a failed sibling): the aggregator ends the job for everyone.
        const auto& c = *self->state.ctx;
        c.send(c.where.aggregator_node, make_message(net::msg_type::shutdown, aggregator_name, {{"reason", "stopped"}}));
        self->quit();
      },
  };
}

} // namespace

caf::actor spawn_loader(caf::actor_system& sys, std::shared_ptr<const node_context> ctx,
                        std::int64_t fail_after_requests) {
  return sys.spawn<caf::detached>(loader_actor, std::move(ctx), fail_after_requests);
}

} // namespace troupe::actors
