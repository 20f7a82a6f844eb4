#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "actors/aggregator_state.hpp"
#include "runtime/metrics_actor.hpp"
#include "ps/protocol.hpp"
#include "train/fit.hpp"
#include "train/model_file.hpp"

namespace troupe::actors {

std::filesystem::path checkpoint_dir(const aggregator_state& st) {
  return std::filesystem::path(st.ctx->topo.checkpoint.dir);
}

void save(aggregator_state& st, const std::string& file, const nlohmann::json& info) {
  const auto path = (checkpoint_dir(st) / file).string();
  written(st, path, [&] {
    std::filesystem::create_directories(checkpoint_dir(st));
    train::saved_model m{st.ctx->model.name, st.core->layout(), st.core->params(), info.dump()};
    train::save_model(path, m);
  });
}

namespace {

/// "1:05:03", "4:07" or "12 s".
std::string format_duration(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  if (s < 60)
    return fmt::format("{} s", s);
  if (s < 3600)
    return fmt::format("{}:{:02}", s / 60, s % 60);
  return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

} // namespace

void report_spans(aggregator_state& st) {
  if (st.spans.empty())
    return;
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r["event"] = "spans";
  r["spans"] = st.spans.take();
  st.ctx->record(r.dump());
}

void evaluate(aggregator_state& st, std::size_t epoch) {
  const auto t0 = agg_clock::now();
  const auto w0 = span_log::wall::now();
  const auto ev = train::evaluate(*st.engine, st.core->params(), st.test);
  const double secs = std::chrono::duration<double>(agg_clock::now() - t0).count();
  st.spans.add("evaluate", w0, span_log::wall::now());
  st.ctx->line(fmt::format(" * Epoch {} (clock {}) test: Acc@1 {:.2f}  Acc@5 {:.2f}  Loss {:.4f}  ({} images, {:.1f} s)",
                           epoch, st.core->min_clock(), 100.0 * ev.top1, 100.0 * ev.top5, ev.loss, ev.n, secs));
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r["epoch"] = epoch;
  r["test_loss"] = ev.loss;
  r["test_acc"] = ev.top1;
  r["test_top5"] = ev.top5;
  r["version"] = st.core->version();
  r["elapsed_s"] = std::chrono::duration<double>(agg_clock::now() - st.started_at).count();
  st.ctx->record(r.dump());
  const nlohmann::json info{{"epoch", epoch}, {"version", st.core->version()}, {"test_top1", ev.top1},
                            {"test_top5", ev.top5}, {"test_loss", ev.loss}, {"seed", st.ctx->topo.job.seed}};
  save(st, "model_latest.trpm", info);
  if (ev.top1 > st.best_top1) {
    st.best_top1 = ev.top1;
    save(st, "model_best.trpm", info);
  }
}

void progress(aggregator_state& st, bool force) {
  const auto& o = st.core->options();
  const std::uint64_t clock = st.core->min_clock();
  const auto freq = st.ctx->topo.metrics.print_freq;
  if (st.samples == 0 || (!force && (freq == 0 || clock < st.last_line_clock + freq)))
    return;
  const double n = static_cast<double>(st.samples);
  const double secs = std::chrono::duration<double>(agg_clock::now() - st.last_line_at).count();
  const std::size_t epoch = std::min<std::size_t>(clock / o.steps_per_epoch, o.epochs - 1) + 1;
  const std::size_t in_epoch = clock - (epoch - 1) * o.steps_per_epoch;
  // ETA from the clock rate since the run started (or resumed).
  const double run_secs = std::chrono::duration<double>(agg_clock::now() - st.started_at).count();
  const double clocks_done = static_cast<double>(clock - st.first_clock);
  const double eta = clocks_done > 0 ? run_secs / clocks_done * static_cast<double>(st.core->total_clocks() - clock) : 0;
  st.ctx->line(fmt::format("Epoch: [{}][{:>4}/{}]  Time {:6.3f}/step  Loss {:.4e}  Acc@1 {:6.2f}  Acc@5 {:6.2f}  "
                           "images/s {:.0f}  LR {:.4g}  version {}  ETA {}",
                           epoch, in_epoch, o.steps_per_epoch,
                           secs / static_cast<double>(std::max<std::uint64_t>(clock - st.last_line_clock, 1)),
                           st.loss_sum / n, 100.0 * static_cast<double>(st.correct1) / n,
                           100.0 * static_cast<double>(st.correct5) / n, n / std::max(secs, 1e-9), st.core->current_lr(),
                           st.core->version(), format_duration(eta)));
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", clock);
  r["loss"] = st.loss_sum / n;
  r["acc"] = static_cast<double>(st.correct1) / n;
  r["images_per_s"] = n / std::max(secs, 1e-9);
  r["updates_per_s"] = static_cast<double>(st.pushes) / std::max(secs, 1e-9);
  r["lr"] = st.core->current_lr();
  r["version"] = st.core->version();
  r["applied"] = st.core->version();  // optimizer applications so far (= version)
  double stale_sum = 0;
  std::uint64_t stale_n = 0;
  for (const auto& [k, v] : st.staleness_hist) {
    stale_sum += static_cast<double>(k * v);
    stale_n += v;
  }
  r["staleness"] = stale_n > 0 ? stale_sum / static_cast<double>(stale_n) : 0.0;  // mean over the run so far
  nlohmann::json lag = nlohmann::json::array();
  for (std::size_t i = 0; i < o.trainers; ++i)  // a trainer removed under shrink may be behind the slowest present one
    lag.push_back(st.core->clock_of(i) > st.core->min_clock() ? st.core->clock_of(i) - st.core->min_clock() : 0);
  r["clock_lag"] = lag;
  nlohmann::json hist = nlohmann::json::object();
  for (const auto& [k, v] : st.staleness_hist)
    hist[std::to_string(k)] = v;
  r["staleness_hist"] = hist;
  r["refused"] = st.refused;  // non-finite gradients refused so far
  st.ctx->record(r.dump());
  report_spans(st);
  st.loss_sum = 0;
  st.samples = st.correct1 = st.correct5 = st.pushes = 0;
  st.last_line_clock = clock;
  st.last_line_at = agg_clock::now();
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
    const bool shrink = st.ctx->topo.job.on_trainer_loss == config::trainer_loss_policy::shrink && !trainers.empty();
    std::cerr << fmt::format("troupe-node [{}]: node '{}' ({}) silent for {:.1f} s: declared lost; {}\n", st.ctx->node,
                             d.node, fmt::join(trainers, ", "), d.silent_s,
                             shrink ? "continuing without its trainers until it comes back (on_trainer_loss: shrink)"
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

} // namespace troupe::actors
