// What an aggregator shard sends and what shard 0 assembles from the others (docs/sharding.md).

#include <algorithm>

#include <fmt/format.h>

#include "actors/aggregator_state.hpp"
#include "common/error.hpp"
#include "ps/protocol.hpp"

namespace troupe::actors {

namespace {

/// Puts `shard`'s range (at `range`) into assembly `a`, sized to the whole model on first use.
assembly& assemble(aggregator_state& st, assembly& a, std::size_t shard, const float* range) {
  if (a.params.empty()) {
    a.params.assign(st.full_layout.total, 0.0f);
    a.got.assign(st.ranges.size(), false);
  }
  const auto& r = st.ranges.at(shard);
  std::copy(range, range + r.size(), a.params.begin() + static_cast<std::ptrdiff_t>(r.begin));
  a.got[shard] = true;
  return a;
}

/// Shard 0: evaluates point `point` once every shard's range of it is in (and shard 0 reached it).
void evaluate_assembled(aggregator_state& st, std::uint64_t point) {
  auto it = st.evaluations.find(point);
  if (it == st.evaluations.end() || !it->second.complete() || it->second.epoch == 0)
    return;
  evaluate(st, it->second.epoch, it->second.params, point);
  st.evaluations.erase(it);
}

/// This shard's range for shard 0, always as f32: shard 0 evaluates and saves the master copy,
/// never the 16-bit form the trainers get with job.compression.
ps::flat_f32 exact_range(aggregator_state& st) {
  auto f = params_of(st);
  f.packed.reset();
  return f;
}

} // namespace

bool sharded(const aggregator_state& st) {
  return st.ranges.size() > 1;
}

ps::flat_f32 params_of(aggregator_state& st) {
  if (st.snapshot_version != st.core->version()) {
    st.snapshot = std::make_shared<const std::vector<float>>(st.core->params());
    st.snapshot_version = st.core->version();
    st.packed_snapshot.reset();
    const auto wire = ps::params_encoding(st.ctx->topo.job.compression.mode);
    if (wire != config::compression::none)
      st.packed_snapshot =
          std::make_shared<const ps::packed_f32>(ps::pack_halves(st.snapshot->data(), st.snapshot->size(), wire));
  }
  return {st.snapshot, st.snapshot->data(), st.snapshot->size(), st.packed_snapshot};
}

const std::vector<float>* final_whole(const aggregator_state& st) {
  if (!sharded(st))
    return &st.core->params();
  return st.final_params.complete() ? &st.final_params.params : nullptr;
}

void evaluation_point(aggregator_state& st, std::size_t epoch) {
  const auto point = st.core->min_clock();
  if (!sharded(st)) {
    evaluate(st, epoch, st.core->params(), point);
    return;
  }
  if (st.shard > 0) {
    st.ctx->send(st.ctx->where.aggregator_node,
                 encode(ps::shard_report{st.shard, point, st.core->version(), false, exact_range(st)}));
    return;
  }
  auto& a = assemble(st, st.evaluations[point], 0, st.core->params().data());
  a.epoch = epoch;
  a.version = st.core->version();
  evaluate_assembled(st, point);
}

bool shard_done(aggregator_state& st) {
  if (!sharded(st))
    return true;
  if (st.shard > 0) {
    if (!st.awaiting_final) {
      st.awaiting_final = true;
      st.ctx->send(st.ctx->where.aggregator_node,
                   encode(ps::shard_report{st.shard, st.core->min_clock(), st.core->version(), true, exact_range(st)}));
      if (st.core->version() != st.last_checkpoint_version)
        save_checkpoint(st);
    }
    return false; // shard 0 ends the job
  }
  if (!st.awaiting_final)
    st.awaiting_since = agg_clock::now();
  st.awaiting_final = true;
  assemble(st, st.final_params, 0, st.core->params().data());
  return st.final_params.complete();
}

std::optional<std::string> shard_gone(aggregator_state& st) {
  if (!sharded(st) || !st.started || st.finished)
    return std::nullopt;
  const auto& where = st.ctx->where;
  const auto now = agg_clock::now();
  const auto limit = std::chrono::duration<double>(st.ctx->topo.cluster.aggregator_gone_after_s());
  const auto advice = "start it again with the same command (the shards then go back to their newest common "
                      "checkpoint together), or start the whole job again: it resumes from that checkpoint";
  if (st.shard == 0) {
    // Every other shard's node: its runtime's heartbeats, like any node's, reach shard 0.
    std::vector<std::string> others;
    for (const auto& node : where.shard_node_names())
      if (node != st.ctx->node)
        others.push_back(node);
    if (const auto gone = st.alive->longest_silent(others, st.started_at, now, limit))
      return fmt::format("{} has been silent for {:.0f} s: this shard's part of the job cannot go on without it "
                         "(its range of the parameters is neither updated nor sent); {}",
                         where.aggregator_on(gone->node), gone->silent_s, advice);
    return std::nullopt;
  }
  if (where.aggregator_node == st.ctx->node) // shard 0 lives in this process
    return std::nullopt;
  const auto from = std::max(st.heard_coordinator, st.started_at);
  if (now - from <= limit)
    return std::nullopt;
  return fmt::format("{} (the job's coordinator) has been silent for {:.0f} s: this shard's part of the job cannot "
                     "end without it; {}",
                     where.aggregator_on(where.aggregator_node), std::chrono::duration<double>(now - from).count(),
                     advice);
}

bool take_shard_report(aggregator_state& st, const net::message& m) {
  if (st.shard != 0 || !sharded(st))
    throw error("parameters sent to an aggregator that gathers no shards");
  const auto s = ps::shard_of(m, st.ranges.size());
  if (s == 0 || st.ctx->where.shard_nodes[s] != m.h.sender)
    throw error(fmt::format("shard {}'s range from node '{}', which does not host it", s, m.h.sender));
  const auto r = ps::decode_shard_report(m, st.ranges[s].size());
  if (r.final) {
    assemble(st, st.final_params, s, r.params.data);
    return st.awaiting_final && st.final_params.complete();
  }
  assemble(st, st.evaluations[r.point], s, r.params.data);
  evaluate_assembled(st, r.point);
  return false;
}

} // namespace troupe::actors
