#include "runtime/node_reporter.hpp"

#include "ps/protocol.hpp"
#include "ps/shard_plan.hpp"
#include "runtime/metrics_actor.hpp"
#include "runtime/router.hpp"

namespace troupe::runtime {

namespace {

/// {"<peer>": {"messages_sent": ..., "rtt_s": ...}, ...}: the van's figures per peer.
nlohmann::json peers_of(const net::van_stats& c) {
  auto peers = nlohmann::json::object();
  for (const auto& [name, p] : c.peers) {
    nlohmann::json e = {{"messages_sent", p.messages_sent},
                        {"bytes_sent", p.bytes_sent},
                        {"messages_received", p.messages_received},
                        {"bytes_received", p.bytes_received},
                        {"rejected", p.rejected},
                        {"send_failures", p.send_failures},
                        {"rtt_samples", p.rtt_samples},
                        {"probes_unanswered", p.probes_unanswered}};
    if (p.rtt_samples > 0) {
      e["rtt_s"] = p.rtt_s;
      e["rtt_min_s"] = p.rtt_min_s;
      e["rtt_last_s"] = p.rtt_last_s;
    }
    peers[name] = std::move(e);
  }
  return peers;
}

/// {"<actor>": {"depth": n, "max": m}, ...}; the high-water marks start again.
nlohmann::json depths_of(queue_gauges& g) {
  auto out = nlohmann::json::object();
  for (const auto& [name, r] : g.take())
    out[name] = {{"depth", r.depth}, {"max", r.max}};
  return out;
}

} // namespace

void report_transport(const node_context& ctx) {
  const auto c = ctx.van->counters();
  auto r = make_record(ctx.node, "van", "transport", c.messages_received);
  r["messages_sent"] = c.messages_sent;
  r["bytes_sent"] = c.bytes_sent;
  r["messages_received"] = c.messages_received;
  r["bytes_received"] = c.bytes_received;
  r["rejected"] = c.rejected;
  auto by_reason = nlohmann::json::object();
  for (std::size_t i = 0; i < c.rejected_by_reason.size(); ++i)
    if (c.rejected_by_reason[i] != 0)
      by_reason[net::to_string(static_cast<net::decode_error::reason>(i))] = c.rejected_by_reason[i];
  r["rejected_by_reason"] = by_reason;
  r["send_failures"] = c.send_failures;
  if (!c.last_rejection.empty())
    r["last_rejection"] = c.last_rejection;
  if (ctx.routes) {
    const auto rc = ctx.routes->counters();
    r["routed"] = {{"delivered", rc.delivered},
                   {"parked", rc.parked},
                   {"refused_unknown_actor", rc.refused_unknown_actor},
                   {"refused_full", rc.refused_full},
                   {"refused_no_recipient", rc.refused_no_recipient},
                   {"refused_unauthorized", ctx.refused_unauthorized->load()}};
  }
  r["peers"] = peers_of(c);
  r["mailboxes"] = depths_of(*ctx.mailboxes);
  r["prefetch"] = depths_of(*ctx.prefetch);
  ctx.record(r.dump());
}

void node_reporter::tick(const std::vector<const node_context*>& nodes, bool final) {
  const auto now = clock::now();
  if (!final && now - last_heartbeat_ >= heartbeat_) {
    last_heartbeat_ = now;
    for (const auto* ctx : nodes) {
      // To every aggregator shard on another node: shard 0 keeps the job's membership, and every
      // shard notices a shard 0 that is gone for good (docs/sharding.md, "A lost shard node").
      for (const auto& node : ctx->where.shard_node_names())
        if (node != ctx->node) {
          std::vector<std::string> to;
          for (std::size_t s : ctx->where.shards_on(node))
            to.push_back(ps::aggregator_shard_name(s));
          ctx->send(node, ps::heartbeat_message(std::move(to)));
        }
      // And from the coordinator's node to the loader, which has no other sign that the job
      // still has an aggregator while every trainer waits.
      if (ctx->node == ctx->where.aggregator_node && ctx->where.loader_node != ctx->node)
        ctx->send(ctx->where.loader_node, ps::heartbeat_message({ps::loader_name}));
      // A round-trip probe to every other node (answered by its van; skipped while one is unanswered).
      for (const auto& n : ctx->topo.cluster.nodes)
        if (n.name != ctx->node)
          (void)ctx->van->probe(n.name);
    }
  }
  if (transport_ && (final || now - last_transport_ >= transport_period_)) {
    last_transport_ = now;
    for (const auto* ctx : nodes)
      report_transport(*ctx);
  }
}

} // namespace troupe::runtime
