#include "actors/aggregator_actor.hpp"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include <caf/all.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/aggregator_core.hpp"
#include "actors/loader_core.hpp"
#include "actors/messages.hpp"
#include "actors/metrics_actor.hpp"
#include "actors/protocol.hpp"
#include "common/error.hpp"
#include "data/dataset.hpp"
#include "data/idx_reader.hpp"
#include "train/fit.hpp"
#include "train/model_file.hpp"

namespace troupe::actors {

namespace {

using clock_type = std::chrono::steady_clock;

consistency_mode mode_of(config::consistency c) {
  switch (c) {
  case config::consistency::bsp: return consistency_mode::bsp;
  case config::consistency::ssp: return consistency_mode::ssp;
  case config::consistency::asp: return consistency_mode::asp;
  }
  return consistency_mode::bsp;
}

struct aggregator_state {
  std::shared_ptr<const node_context> ctx;
  std::unique_ptr<train::gradient_engine> engine;  ///< evaluation only
  std::unique_ptr<aggregator_core> core;
  data::dataset test;
  std::set<std::size_t> hello_from;
  bool started = false, finished = false;
  std::shared_ptr<const std::vector<float>> snapshot;  ///< params of `snapshot_version`, shared by all sends
  std::uint64_t snapshot_version = ~std::uint64_t{0};
  std::size_t evaluated_epochs = 0;
  std::uint64_t next_step_eval = 0;  ///< min clock of the next step-based evaluation
  double best_top1 = -1;
  // Progress since the last line: sums from the trainers' pushes.
  double loss_sum = 0;
  std::size_t samples = 0, correct1 = 0, correct5 = 0, pushes = 0;
  std::map<std::uint64_t, std::uint64_t> staleness_hist;
  std::uint64_t last_line_clock = 0;
  clock_type::time_point started_at = clock_type::now(), last_line_at = clock_type::now();
};

std::filesystem::path checkpoint_dir(const aggregator_state& st) {
  return std::filesystem::path(st.ctx->topo.checkpoint.dir);
}

const std::shared_ptr<const std::vector<float>>& snapshot(aggregator_state& st) {
  if (st.snapshot_version != st.core->version()) {
    st.snapshot = std::make_shared<const std::vector<float>>(st.core->params());
    st.snapshot_version = st.core->version();
  }
  return st.snapshot;
}

net::message params_message(aggregator_state& st, net::msg_type type, std::size_t rank, nlohmann::json meta = {}) {
  auto m = make_message(type, trainer_name(rank), meta.is_null() ? nlohmann::json::object() : meta);
  m.h.clock = st.core->min_clock();
  m.h.step = st.core->version();
  add_flat(m, "params", snapshot(st));
  return m;
}

void welcome(aggregator_state& st, std::size_t rank) {
  const auto& job = st.ctx->topo.job;
  const nlohmann::json meta{{"rank", rank},
                            {"trainers", st.core->options().trainers},
                            {"steps_per_epoch", st.core->options().steps_per_epoch},
                            {"epochs", st.core->options().epochs},
                            {"mode", config::to_string(job.consistency.mode)},
                            {"staleness", job.consistency.staleness}};
  st.ctx->send(st.ctx->where.trainer_nodes[rank], params_message(st, net::msg_type::welcome, rank, meta));
}

void save(aggregator_state& st, const std::string& file, const nlohmann::json& info) {
  std::filesystem::create_directories(checkpoint_dir(st));
  train::saved_model m{st.ctx->model.name, st.core->layout(), st.core->params(), info.dump()};
  train::save_model((checkpoint_dir(st) / file).string(), m);
}

void evaluate(aggregator_state& st, std::size_t epoch) {
  const auto t0 = clock_type::now();
  const auto ev = train::evaluate(*st.engine, st.core->params(), st.test);
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  st.ctx->line(fmt::format(" * Epoch {} (clock {}) test: Acc@1 {:.2f}  Acc@5 {:.2f}  Loss {:.4f}  ({} images, {:.1f} s)",
                           epoch, st.core->min_clock(), 100.0 * ev.top1, 100.0 * ev.top5, ev.loss, ev.n, secs));
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r["epoch"] = epoch;
  r["test_loss"] = ev.loss;
  r["test_acc"] = ev.top1;
  r["test_top5"] = ev.top5;
  r["version"] = st.core->version();
  r["elapsed_s"] = std::chrono::duration<double>(clock_type::now() - st.started_at).count();
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
  const double secs = std::chrono::duration<double>(clock_type::now() - st.last_line_at).count();
  const std::size_t epoch = std::min<std::size_t>(clock / o.steps_per_epoch, o.epochs - 1) + 1;
  const std::size_t in_epoch = clock - (epoch - 1) * o.steps_per_epoch;
  st.ctx->line(fmt::format("Epoch: [{}][{:>4}/{}]  Time {:6.3f}/step  Loss {:.4e}  Acc@1 {:6.2f}  Acc@5 {:6.2f}  "
                           "images/s {:.0f}  LR {:.4g}  version {}",
                           epoch, in_epoch, o.steps_per_epoch,
                           secs / static_cast<double>(std::max<std::uint64_t>(clock - st.last_line_clock, 1)),
                           st.loss_sum / n, 100.0 * static_cast<double>(st.correct1) / n,
                           100.0 * static_cast<double>(st.correct5) / n, n / std::max(secs, 1e-9), st.core->current_lr(),
                           st.core->version()));
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", clock);
  r["loss"] = st.loss_sum / n;
  r["acc"] = static_cast<double>(st.correct1) / n;
  r["images_per_s"] = n / std::max(secs, 1e-9);
  r["updates_per_s"] = static_cast<double>(st.pushes) / std::max(secs, 1e-9);
  r["lr"] = st.core->current_lr();
  r["version"] = st.core->version();
  nlohmann::json lag = nlohmann::json::array();
  for (std::size_t i = 0; i < o.trainers; ++i)
    lag.push_back(st.core->clock_of(i) - st.core->min_clock());
  r["clock_lag"] = lag;
  nlohmann::json hist = nlohmann::json::object();
  for (const auto& [k, v] : st.staleness_hist)
    hist[std::to_string(k)] = v;
  r["staleness_hist"] = hist;
  st.ctx->record(r.dump());
  st.loss_sum = 0;
  st.samples = st.correct1 = st.correct5 = st.pushes = 0;
  st.last_line_clock = clock;
  st.last_line_at = clock_type::now();
}

void finish(caf::stateful_actor<aggregator_state>* self, const std::string& reason, bool failed = false) {
  auto& st = self->state;
  if (st.finished)
    return;
  st.finished = true;
  progress(st, true);
  const std::size_t epochs_done = st.core->min_clock() / st.core->options().steps_per_epoch;
  if (reason == "done" && st.evaluated_epochs < epochs_done)
    evaluate(st, epochs_done);
  save(st, "model_final.trpm", {{"version", st.core->version()}, {"reason", reason}, {"seed", st.ctx->topo.job.seed}});
  const double secs = std::chrono::duration<double>(clock_type::now() - st.started_at).count();
  auto rec = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  rec["event"] = "finish";
  rec["reason"] = reason;
  rec["version"] = st.core->version();
  rec["elapsed_s"] = secs;
  st.ctx->record(rec.dump());
  st.ctx->line(fmt::format("=> {} after {:.1f} s: {} updates; {}; saved {}", reason, secs, st.core->version(),
                           st.best_top1 < 0 ? std::string("not evaluated yet")
                                            : fmt::format("best Acc@1 {:.2f}", 100.0 * st.best_top1),
                           (checkpoint_dir(st) / "model_final.trpm").string()));
  for (std::size_t r = 0; r < st.ctx->where.trainers(); ++r)
    st.ctx->send(st.ctx->where.trainer_nodes[r], make_message(net::msg_type::shutdown, trainer_name(r), {{"reason", reason}}));
  st.ctx->send(st.ctx->where.loader_node, make_message(net::msg_type::shutdown, loader_name, {{"reason", reason}}));
  self->quit(failed ? caf::make_error(caf::sec::runtime_error, reason) : caf::error{});
}

void on_push(caf::stateful_actor<aggregator_state>* self, const net::message& m) {
  auto& st = self->state;
  const auto meta = meta_of(m);
  const auto rank = field<std::size_t>(meta, "rank", m);
  const auto n = field<std::size_t>(meta, "n", m);
  const float* grad = nullptr;
  if (n > 0)
    grad = flat_of(m, "grad", st.core->layout().total).data;
  const auto out = st.core->push(rank, m.h.clock, field<std::uint64_t>(meta, "version_read", m), n, grad);
  if (out.duplicate)
    return;
  st.loss_sum += field<double>(meta, "loss_sum", m);
  st.samples += n;
  st.correct1 += field<std::size_t>(meta, "correct1", m);
  st.correct5 += field<std::size_t>(meta, "correct5", m);
  ++st.pushes;
  ++st.staleness_hist[out.staleness];
  // One params message per node, addressed to all its released trainers: a node hosting several
  // trainers receives the parameters once and hands the same buffer to each of them.
  std::map<std::string, nlohmann::json> per_node;
  for (std::size_t r : out.released) {
    auto& to = per_node[st.ctx->where.trainer_nodes[r]];
    if (to.is_null())
      to = nlohmann::json::array();
    to.push_back(trainer_name(r));
  }
  for (auto& [node, to] : per_node) {
    auto m = make_message(net::msg_type::params, "", {});
    m.h.meta = nlohmann::json{{"to", to}}.dump();
    m.h.clock = st.core->min_clock();
    m.h.step = st.core->version();
    add_flat(m, "params", snapshot(st));
    st.ctx->send(node, std::move(m));
  }
  progress(st, false);
  const auto& o = st.core->options();
  const auto& eval = st.ctx->topo.job.evaluation;
  bool evaluated = false;
  while (st.evaluated_epochs < st.core->min_clock() / o.steps_per_epoch) {
    ++st.evaluated_epochs;
    if (eval.every_epochs > 0 && (st.evaluated_epochs % eval.every_epochs == 0 || st.evaluated_epochs == o.epochs)) {
      evaluate(st, st.evaluated_epochs);
      evaluated = true;
    }
  }
  // Step-based evaluation (e.g. for time-to-accuracy): every `every_steps` clocks of the slowest trainer.
  if (eval.every_steps > 0 && st.core->min_clock() >= st.next_step_eval) {
    if (!evaluated)
      evaluate(st, st.core->min_clock() / o.steps_per_epoch + 1);
    st.next_step_eval = (st.core->min_clock() / eval.every_steps + 1) * eval.every_steps;
  }
  if (st.core->done())
    finish(self, "done");
}

/// How long the aggregator waits without any message before it gives up with an error.
long idle_limit_s(const node_context& ctx) {
  return static_cast<long>(std::max(60.0, 4 * ctx.topo.cluster.connect_timeout_s));
}

caf::behavior aggregator_actor(caf::stateful_actor<aggregator_state>* self, std::shared_ptr<const node_context> ctx) {
  auto& st = self->state;
  st.ctx = ctx;
  const auto& job = ctx->topo.job;
  const std::size_t trainers = ctx->where.trainers();
  // Evaluation threads: the cores not taken by this node's own trainers.
  const std::size_t local_trainers = ctx->where.ranks_on(ctx->node).size();
  st.engine = std::make_unique<train::gradient_engine>(ctx->model, job.seed, local_trainers == 0 ? 2 : 1);
  data::normalization norm;
  if (job.data.normalize)
    norm = {true, 0.2860f, 0.3530f};
  st.test = data::load_fashion_mnist(job.data.dir, false, norm, job.data.max_test);
  // The loader's schedule fixes the clocks per epoch; the aggregator derives the same number from
  // the size of the training split (its label file is small; the images stay with the loader).
  const auto labels = data::read_idx((std::filesystem::path(job.data.dir) / "train-labels-idx1-ubyte.gz").string());
  TROUPE_ENFORCE(!labels.dims.empty(), "training labels without dimensions");
  const std::size_t train_n = job.data.max_train > 0 ? std::min<std::size_t>(job.data.max_train, labels.dims[0])
                                                     : std::size_t{labels.dims[0]};
  aggregator_options o;
  o.mode = mode_of(job.consistency.mode);
  o.staleness = job.consistency.staleness;
  o.trainers = trainers;
  o.steps_per_epoch = loader_core(train_n, trainers, job.batch_size, job.seed, job.epochs).steps_per_epoch();
  o.epochs = job.epochs;
  o.optimizer = {job.optimizer.kind, job.optimizer.momentum, job.optimizer.dampening, job.optimizer.nesterov,
                 job.optimizer.weight_decay, job.optimizer.beta1, job.optimizer.beta2, job.optimizer.eps};
  o.schedule = {job.schedule.kind, job.optimizer.lr, job.schedule.step_epochs, job.schedule.gamma,
                job.schedule.min_lr, job.schedule.warmup_steps, job.schedule.warmup_start_factor};
  st.core = std::make_unique<aggregator_core>(o, st.engine->layout(), st.engine->initial_parameters());
  st.next_step_eval = job.evaluation.every_steps;
  if (o.mode != consistency_mode::bsp && !(o.mode == consistency_mode::ssp && o.staleness == 0) && trainers > 1 &&
      job.optimizer.kind == "sgd" && job.optimizer.momentum > 0)
    ctx->line(fmt::format("=> note: {} with {} trainers and momentum {}: stale gradients already act as momentum "
                          "(about 1 - 1/N); if training diverges, lower the momentum (0 is safe)",
                          config::to_string(job.consistency.mode), trainers, job.optimizer.momentum));
  ctx->line(fmt::format("=> aggregator on '{}': model '{}' ({} parameters), {} trainer(s) x batch {}, {} clocks/epoch, "
                        "{} epochs, {}{}",
                        ctx->node, ctx->model.name, st.core->layout().total, trainers, job.batch_size,
                        o.steps_per_epoch, o.epochs, config::to_string(job.consistency.mode),
                        job.consistency.mode == config::consistency::ssp
                            ? fmt::format(" (staleness {})", job.consistency.staleness)
                            : std::string()));
  return {
      [=](inbound& in) {
        auto& s = self->state;
        const net::message& m = *in.msg;
        try {
          switch (m.h.type) {
          case net::msg_type::hello: {
            const auto rank = field<std::size_t>(meta_of(m), "rank", m);
            TROUPE_ENFORCE(rank < s.ctx->where.trainers(), "hello from trainer rank {} but the job has {} trainers",
                           rank, s.ctx->where.trainers());
            s.hello_from.insert(rank);
            if (s.started) {
              welcome(s, rank);  // it missed the first welcome (or restarted)
            } else if (s.hello_from.size() == s.ctx->where.trainers()) {
              s.started = true;
              s.started_at = s.last_line_at = clock_type::now();
              for (std::size_t r = 0; r < s.ctx->where.trainers(); ++r)
                welcome(s, r);
            }
            break;
          }
          case net::msg_type::push_gradient:
            on_push(self, m);
            break;
          case net::msg_type::shutdown:  // a trainer or the loader was stopped: end the job for everyone
            finish(self, fmt::format("stopped by '{}'", m.h.sender));
            break;
          default:
            std::cerr << fmt::format("troupe-node [{}]: aggregator ignores {} from '{}'\n", s.ctx->node,
                                     net::to_string(m.h.type), m.h.sender);
          }
        } catch (const std::exception& e) {
          std::cerr << fmt::format("troupe-node [{}]: aggregator refused {} from '{}': {}\n", s.ctx->node,
                                   net::to_string(m.h.type), m.h.sender, e.what());
        }
      },
      [=](stop_atom) { finish(self, "stopped"); },
      caf::after(std::chrono::seconds(idle_limit_s(*ctx))) >> [=] {
        auto& s = self->state;
        std::vector<std::string> missing;
        for (std::size_t r = 0; r < s.ctx->where.trainers(); ++r)
          if (!s.started ? s.hello_from.count(r) == 0 : s.core->clock_of(r) == s.core->min_clock())
            missing.push_back(fmt::format("{} on '{}'", trainer_name(r), s.ctx->where.trainer_nodes[r]));
        std::cerr << fmt::format("troupe-node [{}]: aggregator heard nothing for {} s; {}: {}\n", s.ctx->node,
                                 idle_limit_s(*s.ctx), s.started ? "slowest trainers" : "never said hello",
                                 fmt::join(missing, ", "));
        finish(self, "no trainer activity", true);
      },
  };
}

} // namespace

caf::actor spawn_aggregator(caf::actor_system& sys, std::shared_ptr<const node_context> ctx) {
  return sys.spawn<caf::detached>(aggregator_actor, std::move(ctx));
}

} // namespace troupe::actors
