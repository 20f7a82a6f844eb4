#include <algorithm>
#include <functional>
#include <iostream>

#include <fmt/format.h>

#include "actors/aggregator_state.hpp"
#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "ps/protocol.hpp"
#include "runtime/metrics_actor.hpp"

namespace troupe::actors {

train::training_state checkpoint_state(const aggregator_state& st) {
  const auto& o = st.core->options();
  train::training_state s;
  s.model_name = st.ctx->model.name;
  s.layout = st.core->layout();
  s.params = st.core->params();
  s.optimizer = st.core->optimizer().state();
  s.global_step = st.core->version();
  s.epoch = st.core->min_clock() / o.steps_per_epoch;
  s.trainer_clocks = st.core->clocks();
  s.data_seed = st.ctx->topo.job.seed;
  for (auto c : s.trainer_clocks) // a trainer's clock is the number of batches it consumed
    s.loader_cursors.emplace_back(c / o.steps_per_epoch, c % o.steps_per_epoch);
  try {
    s.config_text = read_file(st.ctx->topo.source);
  } catch (const std::exception&) {
    s.config_text.clear(); // a topology given as text (tests) has no file to keep
  }
  // The membership (shrink, elastic): who was out of the job, so a resumed job does not wait for them.
  std::vector<std::size_t> absent;
  for (std::size_t r = 0; r < o.trainers; ++r)
    if (!st.core->present(r))
      absent.push_back(r);
  // The loader's cuts of the global batch still in use (job.balance, elastic): the one the slowest
  // trainer is in and any later one already decided, so a resumed run cuts those clocks the same way.
  nlohmann::json cuts = nlohmann::json::array();
  for (const auto& [from, cut] : st.balance_cuts)
    cuts.push_back({{"from_clock", cut.from_clock}, {"shares", cut.shares}, {"weights", cut.weights}});
  s.info_json = nlohmann::json{
      {"best_top1", st.best_top1},
      {"mode", config::to_string(st.ctx->topo.job.consistency.mode)},
      {"total_clocks", st.core->total_clocks()},
      {"absent_trainers", absent},
      {"balance_cuts",
       cuts}}.dump();
  return s;
}

bool written(aggregator_state& st, const std::string& path, const std::function<void()>& write) {
  try {
    write();
    return true;
  } catch (const std::exception& e) {
    const auto& policy = st.ctx->topo.checkpoint.on_write_error;
    std::cerr << fmt::format(
        "troupe-node [{}]: could not write {}: {} (checkpoint.on_write_error: {}{})\n", st.ctx->node, path, e.what(),
        policy, policy == "stop" ? ": stopping the job" : ": training goes on; the last good files are kept");
    auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
    r["event"] = "write_failed";
    r["path"] = path;
    r["error"] = e.what();
    r["policy"] = policy;
    st.ctx->record(r.dump());
    if (policy == "stop" && st.write_failure.empty())
      st.write_failure = fmt::format("could not write {}: {}", path, e.what());
    return false;
  }
}

void save_checkpoint(aggregator_state& st) {
  const auto t0 = agg_clock::now();
  const auto w0 = span_log::wall::now();
  std::string path;
  if (!written(st, st.store->dir(), [&] { path = st.store->save(checkpoint_state(st)); })) {
    st.last_checkpoint_version = st.core->version(); // not again at once: at the next period
    st.last_checkpoint_at = agg_clock::now();
    return;
  }
  const double stall = std::chrono::duration<double>(agg_clock::now() - t0).count();
  st.spans.add("checkpoint", w0, span_log::wall::now());
  st.last_checkpoint_version = st.core->version();
  st.last_checkpoint_at = agg_clock::now();
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r["event"] = "checkpoint";
  r["path"] = path;
  r["version"] = st.core->version();
  r["stall_s"] = stall;
  st.ctx->record(r.dump());
}

void maybe_checkpoint(aggregator_state& st) {
  const auto& c = st.ctx->topo.checkpoint;
  if (!st.core->at_round_boundary() || st.core->version() == st.last_checkpoint_version)
    return;
  const bool by_steps = c.every_steps > 0 && st.core->version() >= st.last_checkpoint_version + c.every_steps;
  const bool by_time =
      c.every_seconds > 0 &&
      std::chrono::duration<double>(agg_clock::now() - st.last_checkpoint_at).count() >= c.every_seconds;
  if (by_steps || by_time)
    save_checkpoint(st);
}

std::filesystem::path shard_checkpoint_dir(const aggregator_state& st, std::size_t shard) {
  const std::filesystem::path dir(st.ctx->topo.checkpoint.dir);
  return st.ranges.size() > 1 ? dir / fmt::format("shard-{}", shard) : dir;
}

namespace {

/// What follows a restore: bookkeeping derived from the clocks starts again from them.
void restart_bookkeeping(aggregator_state& st) {
  const auto& o = st.core->options();
  st.evaluated_epochs = st.core->min_clock() / o.steps_per_epoch;
  const auto every = st.ctx->topo.job.evaluation.every_steps;
  st.next_step_eval = every > 0 ? (st.core->min_clock() / every + 1) * every : 0;
  st.last_checkpoint_version = st.core->version();
  st.meter.restart_at(st.core->min_clock());
  st.evaluations.clear();
  st.final_params = {};
  st.awaiting_final = false;
  st.snapshot_version = ~std::uint64_t{0};
}

} // namespace

void rewind_to(aggregator_state& st, std::uint64_t step) {
  if (step == 0) {
    st.core = std::make_unique<aggregator_core>(st.core->options(), st.core->layout(), st.initial_range);
  } else {
    const auto loaded = st.store->load_latest(st.ctx->model.name, st.core->layout(), step);
    if (!loaded || loaded->state.global_step != step)
      throw error(fmt::format("aggregator shard {} cannot rewind to checkpoint step {}: {} holds no readable part of "
                              "it{}",
                              st.shard, step, st.store->dir(),
                              loaded ? fmt::format(" (newest readable: step {})", loaded->state.global_step) : ""));
    const auto& s = loaded->state;
    st.core->restore(s.params, s.optimizer, s.global_step, s.trainer_clocks);
  }
  restart_bookkeeping(st);
}

void drop_parts_after(aggregator_state& st, std::uint64_t step) {
  std::vector<std::uint64_t> dropped;
  for (auto s : st.store->steps()) {
    std::error_code ec;
    if (s > step &&
        std::filesystem::remove(std::filesystem::path(st.store->dir()) / train::checkpoint_store::file_name(s), ec))
      dropped.push_back(s);
  }
  if (!dropped.empty())
    st.ctx->line(fmt::format("=> aggregator shard {}: removed its checkpoint parts of steps {} (after step {}, where "
                             "every shard went back)",
                             st.shard, fmt::join(dropped, ", "), step));
}

void resume_if_possible(aggregator_state& st, std::optional<std::uint64_t> common) {
  std::uint64_t max_step = ~std::uint64_t{0};
  if (st.ranges.size() > 1) {
    if (!common)
      return;
    max_step = *common;
  }
  auto loaded = st.store->load_latest(st.ctx->model.name, st.core->layout(), max_step);
  if (!loaded)
    return;
  if (st.ranges.size() > 1 && loaded->state.global_step != max_step)
    throw error(fmt::format("aggregator shard {}: its part of the checkpoint at step {} is unreadable ({}); every "
                            "shard must resume from the same step (use another checkpoint.dir to start a new run)",
                            st.shard, max_step, fmt::join(loaded->skipped, "; ")));
  for (const auto& skipped : loaded->skipped) { // a warning, whatever the console setting
    std::cerr << fmt::format("troupe-node [{}]: skipped a damaged checkpoint: {}\n", st.ctx->node, skipped);
    auto r = make_record(st.ctx->node, aggregator_name, "aggregator", 0);
    r["event"] = "checkpoint_skipped";
    r["reason"] = skipped;
    st.ctx->record(r.dump());
  }
  const auto& s = loaded->state;
  const bool finished = std::all_of(s.trainer_clocks.begin(), s.trainer_clocks.end(),
                                    [&](std::uint64_t c) { return c >= st.core->total_clocks(); });
  if (finished && s.trainer_clocks.size() == st.core->options().trainers) {
    st.ctx->line(
        fmt::format("=> {} holds a finished run: starting a new one (its checkpoints are removed)", st.store->dir()));
    for (const auto& path : st.store->list())
      std::filesystem::remove(path);
    return;
  }
  if (s.data_seed != st.ctx->topo.job.seed)
    throw error(fmt::format("{}: the checkpoint was written by a run with seed {}, this job has seed {}; resuming "
                            "would change the data order (use another checkpoint.dir to start a new run)",
                            loaded->path, s.data_seed, st.ctx->topo.job.seed));
  st.core->restore(s.params, s.optimizer, s.global_step, s.trainer_clocks);
  const auto info = nlohmann::json::parse(s.info_json, nullptr, false);
  if (info.is_object() && info.contains("best_top1"))
    st.best_top1 = info["best_top1"].get<double>();
  st.absent_at_resume.clear();
  if (st.ctx->topo.job.on_trainer_loss == config::trainer_loss_policy::shrink && info.is_object() &&
      info.contains("absent_trainers") && info["absent_trainers"].is_array())
    for (const auto& r : info["absent_trainers"])
      if (r.is_number_unsigned() && r.get<std::size_t>() < st.core->options().trainers)
        st.absent_at_resume.insert(r.get<std::size_t>());
  st.balance_cuts.clear();
  if (info.is_object() && info.contains("balance_cuts"))
    for (const auto& cut : ps::balance_cuts_from_json(info["balance_cuts"], loaded->path + ": balance_cuts"))
      st.balance_cuts[cut.from_clock] = cut;
  st.evaluated_epochs = st.core->min_clock() / st.core->options().steps_per_epoch;
  st.last_checkpoint_version = st.core->version();
  st.meter.restart_at(st.core->min_clock());
  std::vector<std::string> absent;
  for (std::size_t r : st.absent_at_resume)
    absent.push_back(trainer_name(r));
  st.ctx->line(fmt::format(
      "=> resumed from {} (version {}, slowest clock {}){}", loaded->path, st.core->version(), st.core->min_clock(),
      absent.empty() ? std::string()
                     : fmt::format("; out of the job then, not waited for: {}", fmt::join(absent, ", "))));
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r["event"] = "resume";
  r["path"] = loaded->path;
  r["version"] = st.core->version();
  st.ctx->record(r.dump());
}

} // namespace troupe::actors
