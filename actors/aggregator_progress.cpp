#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "actors/aggregator_state.hpp"
#include "ps/protocol.hpp"
#include "runtime/metrics_actor.hpp"
#include "train/fit.hpp"
#include "train/model_file.hpp"

namespace troupe::actors {

std::filesystem::path checkpoint_dir(const aggregator_state& st) {
  return std::filesystem::path(st.ctx->topo.checkpoint.dir);
}

void save(aggregator_state& st, const std::string& file, const nlohmann::json& info, const std::vector<float>& params) {
  const auto path = (checkpoint_dir(st) / file).string();
  written(st, path, [&] {
    std::filesystem::create_directories(checkpoint_dir(st));
    train::saved_model m{st.ctx->model.name, st.full_layout, params, info.dump()};
    train::save_model(path, m);
  });
}

void report_spans(aggregator_state& st) {
  if (st.spans.empty())
    return;
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r["event"] = "spans";
  r["spans"] = st.spans.take();
  st.ctx->record(r.dump());
}

void evaluate(aggregator_state& st, std::size_t epoch, const std::vector<float>& params, std::uint64_t clock) {
  const auto t0 = agg_clock::now();
  const auto w0 = span_log::wall::now();
  const auto ev = train::evaluate(*st.engine, params, st.test);
  const double secs = std::chrono::duration<double>(agg_clock::now() - t0).count();
  st.spans.add("evaluate", w0, span_log::wall::now());
  st.ctx->line(
      fmt::format(" * Epoch {} (clock {}) test: Acc@1 {:.2f}  Acc@5 {:.2f}  Loss {:.4f}  ({} images, {:.1f} s)", epoch,
                  clock, 100.0 * ev.top1, 100.0 * ev.top5, ev.loss, ev.n, secs));
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", clock);
  r["epoch"] = epoch;
  r["test_loss"] = ev.loss;
  r["test_acc"] = ev.top1;
  r["test_top5"] = ev.top5;
  r["version"] = st.core->version();
  r["elapsed_s"] = std::chrono::duration<double>(agg_clock::now() - st.started_at).count();
  st.ctx->record(r.dump());
  const nlohmann::json info{{"epoch", epoch},       {"version", st.core->version()}, {"test_top1", ev.top1},
                            {"test_top5", ev.top5}, {"test_loss", ev.loss},          {"seed", st.ctx->topo.job.seed}};
  save(st, "model_latest.trpm", info, params);
  if (ev.top1 > st.best_top1) {
    st.best_top1 = ev.top1;
    save(st, "model_best.trpm", info, params);
  }
}

void progress(aggregator_state& st, bool force) {
  if (!st.meter.due(*st.core, st.ctx->topo.metrics.print_freq, force))
    return;
  const auto now = agg_clock::now();
  const auto line = st.meter.take(*st.core, std::chrono::duration<double>(now - st.last_line_at).count(),
                                  std::chrono::duration<double>(now - st.started_at).count());
  st.ctx->line(line.text);
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r.update(line.fields);
  st.ctx->record(r.dump());
  report_spans(st);
  st.last_line_at = now;
}

bool heard_from(aggregator_state& st, const std::string& node) {
  if (!st.alive->heard(node, agg_clock::now()))
    return false;
  st.ctx->line(fmt::format("=> node '{}' is back", node));
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r["event"] = "peer_back";
  r["target"] = node;
  st.ctx->record(r.dump());
  return true;
}

std::vector<std::string> check_liveness(aggregator_state& st) {
  std::vector<std::string> declared;
  for (const auto& d : st.alive->check(agg_clock::now())) {
    std::vector<std::string> trainers;
    for (std::size_t r : st.ctx->where.ranks_on(d.node))
      trainers.push_back(trainer_name(r));
    auto hosted = trainers; // what the node runs, for the message
    for (std::size_t s : st.ctx->where.shards_on(d.node))
      hosted.push_back(ps::aggregator_shard_name(s));
    if (d.node == st.ctx->where.loader_node)
      hosted.push_back(loader_name);
    const bool shrink = st.ctx->topo.job.on_trainer_loss == config::trainer_loss_policy::shrink && !trainers.empty();
    std::cerr << fmt::format(
        "troupe-node [{}]: node '{}' ({}) silent for {:.1f} s: declared lost; {}\n", st.ctx->node, d.node,
        fmt::join(hosted, ", "), d.silent_s,
        shrink ? "continuing without its trainers until it comes back (on_trainer_loss: shrink)"
        : st.ctx->where.hosts_shard(d.node)
            ? fmt::format("waiting up to {:.0f} s for it to come back", st.ctx->topo.cluster.aggregator_gone_after_s())
        : !trainers.empty() ? fmt::format("waiting up to {:.0f} s for it to come back (cluster.trainer_gone_after_s)",
                                          st.ctx->topo.cluster.trainer_gone_after_s)
                            : "waiting for it to come back");
    auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
    r["event"] = "peer_lost";
    r["target"] = d.node;
    r["silent_s"] = d.silent_s;
    st.ctx->record(r.dump());
    declared.push_back(d.node);
  }
  return declared;
}

std::optional<std::string> trainer_gone(aggregator_state& st) {
  const auto& topo = st.ctx->topo;
  if (st.shard != 0 || !st.started || st.finished || topo.job.on_trainer_loss != config::trainer_loss_policy::wait)
    return std::nullopt;
  // Trainers on this node are never lost (their failures are the supervisor's): other nodes only.
  std::vector<std::string> nodes;
  for (const auto& node : st.ctx->where.trainer_nodes)
    if (node != st.ctx->node && std::find(nodes.begin(), nodes.end(), node) == nodes.end())
      nodes.push_back(node);
  const auto now = agg_clock::now();
  const auto gone = st.alive->longest_silent(nodes, st.started_at, now,
                                             std::chrono::duration<double>(topo.cluster.trainer_gone_after_s));
  if (!gone)
    return std::nullopt;
  std::vector<std::string> trainers;
  for (std::size_t r : st.ctx->where.ranks_on(gone->node))
    trainers.push_back(trainer_name(r));
  return fmt::format("node '{}' ({}) has been silent for {:.0f} s, longer than cluster.trainer_gone_after_s ({:.0f} s) "
                     "with job.on_trainer_loss: wait; start that node and the job again with the same commands to "
                     "resume from the newest checkpoint, or set job.on_trainer_loss: shrink to go on without it",
                     gone->node, fmt::join(trainers, ", "), gone->silent_s, topo.cluster.trainer_gone_after_s);
}

} // namespace troupe::actors
