#include "actors/aggregator_actor.hpp"

#include <chrono>
#include <iostream>
#include <map>

#include <caf/all.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/aggregator_state.hpp"
#include "common/error.hpp"
#include "config/job_fingerprint.hpp"
#include "data/fashion_mnist.hpp"
#include "data/idx_reader.hpp"
#include "ps/loader_core.hpp"
#include "ps/protocol.hpp"
#include "runtime/messages.hpp"
#include "runtime/metrics_actor.hpp"
#include "train/npz_export.hpp"

namespace troupe::actors {

namespace {

using clock_type = agg_clock;
using runtime::inbound;
using runtime::stop_atom;
using runtime::tick_atom;

void welcome(aggregator_state& st, std::size_t rank, std::optional<std::uint64_t> answers_clock = std::nullopt) {
  const auto& o = st.core->options();
  ps::welcome w;
  w.shard = st.shard;
  w.generation = st.generation;
  w.rank = rank;
  w.trainers = o.trainers;
  w.steps_per_epoch = o.steps_per_epoch;
  w.epochs = o.epochs;
  w.gate = o.gate;
  w.clock = st.core->clock_of(rank);
  w.min_clock = st.core->gate_clock();
  w.version = st.core->version();
  w.params = params_of(st);
  w.answers_clock = answers_clock;
  st.ctx->send(st.ctx->where.trainer_nodes[rank], encode(w, trainer_name(rank)));
}

/// Shard s > 0 at the end of the job (shard 0's shutdown, or this node stopping): its last part.
void finish_shard(caf::stateful_actor<aggregator_state>* self, const std::string& reason, bool failed) {
  auto& st = self->state;
  st.finished = true;
  if (st.core->at_round_boundary() && st.core->version() != st.last_checkpoint_version)
    save_checkpoint(st);
  report_spans(st);
  if (failed) { // on its own (shard 0 is gone): say why; shard 0's own ending is its record
    auto rec = make_record(st.ctx->node, ps::aggregator_shard_name(st.shard), "aggregator", st.core->min_clock());
    rec["event"] = "finish";
    rec["reason"] = reason;
    rec["version"] = st.core->version();
    st.ctx->record(rec.dump());
  }
  self->quit(failed ? caf::error(caf::exit_reason::user_shutdown) : caf::error{});
}

void finish(caf::stateful_actor<aggregator_state>* self, const std::string& reason, bool failed = false) {
  auto& st = self->state;
  if (st.finished)
    return;
  if (st.shard > 0) {
    finish_shard(self, reason, failed);
    return;
  }
  st.finished = true;
  progress(st, true);
  const std::size_t epochs_done = st.core->min_clock() / st.core->options().steps_per_epoch;
  const auto* whole = final_whole(st);
  if (whole) {
    if (reason == "done" && st.evaluated_epochs < epochs_done)
      evaluate(st, epochs_done, *whole, st.core->min_clock());
    save(st, "model_final.trpm", {{"version", st.core->version()}, {"reason", reason}, {"seed", st.ctx->topo.job.seed}},
         *whole);
    // The same parameters for Python users: numpy.load("model_final.npz")["0.weight"], ...
    const auto npz = (checkpoint_dir(st) / "model_final.npz").string();
    written(st, npz, [&] { train::export_npz(npz, st.full_layout, whole->data()); });
  } else {
    st.ctx->line(fmt::format("=> model_final not written: the job ended ({}) before every aggregator shard had "
                             "applied its last clock; the checkpoints hold the state",
                             reason));
  }
  if (st.core->at_round_boundary() && st.core->version() != st.last_checkpoint_version)
    save_checkpoint(st);
  report_spans(st);
  const double secs = std::chrono::duration<double>(clock_type::now() - st.started_at).count();
  auto rec = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  rec["event"] = "finish";
  rec["reason"] = reason;
  rec["version"] = st.core->version();
  rec["elapsed_s"] = secs;
  const auto backups = st.core->options().backup_trainers;
  if (backups > 0) {
    rec["late_dropped"] = st.core->late_dropped();
    for (std::size_t r = 0; r < st.core->options().trainers; ++r)
      rec["late_by_trainer"].push_back(st.core->late_dropped(r));
  }
  st.ctx->record(rec.dump());
  st.ctx->line(fmt::format(
      "=> {} after {:.1f} s: {} updates; {}{}; {}", reason, secs, st.core->version(),
      st.best_top1 < 0 ? std::string("not evaluated yet") : fmt::format("best Acc@1 {:.2f}", 100.0 * st.best_top1),
      backups > 0 ? fmt::format("; {} late gradients dropped (backup_trainers: {})", st.core->late_dropped(), backups)
                  : std::string(),
      whole ? "saved " + (checkpoint_dir(st) / "model_final.trpm").string() : std::string("no model_final")));
  for (std::size_t r = 0; r < st.ctx->where.trainers(); ++r)
    if (reachable(st, r))
      st.ctx->send(st.ctx->where.trainer_nodes[r], encode(ps::shutdown{reason, std::nullopt}, trainer_name(r)));
  st.ctx->send(st.ctx->where.loader_node, encode(ps::shutdown{reason, std::nullopt}, loader_name));
  for (std::size_t s = 1; s < st.ranges.size(); ++s)
    st.ctx->send(st.ctx->where.shard_nodes[s],
                 encode(ps::shutdown{reason, std::nullopt}, ps::aggregator_shard_name(s)));
  // A job that ends in failure by decision (e.g. too many non-finite gradients) exits with
  // user_shutdown: its supervisor must end the node with an error, not restart the aggregator.
  self->quit(failed ? caf::error(caf::exit_reason::user_shutdown) : caf::error{});
}

void after_change(caf::stateful_actor<aggregator_state>* self, const push_outcome& out);
bool speaks_for(aggregator_state& st, const net::message& m, std::size_t rank);
void done(caf::stateful_actor<aggregator_state>* self);

void on_push(caf::stateful_actor<aggregator_state>* self, const net::message& m) {
  auto& st = self->state;
  if (st.census) // (re)starting: the rewind that follows sends the trainers back, and they push again
    return;
  const auto p = ps::decode_push(m, st.core->layout().total, st.ctx->topo.job.compression.mode);
  if (p.shard != st.shard)
    throw error(fmt::format("a push for aggregator shard {} reached shard {}", p.shard, st.shard));
  if (!speaks_for(st, m, p.rank))
    return;
  const auto rank = p.rank;
  const auto n = p.n;
  const auto w0 = span_log::wall::now();
  const auto out = st.core->push(rank, p.clock, p.version_read, n, p.grad.data);
  st.spans.add(out.applied ? "apply" : "gather", w0, span_log::wall::now(), gradient_id(rank, m.h.clock));
  if (out.duplicate)
    return;
  if (out.late && st.ctx->topo.job.balance.speed && st.shard == 0) // its shares go to the others (loader_core::owe)
    st.ctx->send(st.ctx->where.loader_node,
                 encode(ps::balance_cuts{{}, false, ps::late_share{rank, out.late_from, out.late_to}}, loader_name));
  st.meter.pushed(p, out);
  if (out.refused)
    report_refusal(st, rank, m.h.clock, out);
  if (out.escalate) {
    const auto reason = fmt::format("{} pushed {} non-finite gradients in a row (clocks {}..{})", trainer_name(rank),
                                    out.refused_in_a_row, m.h.clock + 1 - out.refused_in_a_row, m.h.clock);
    std::cerr << fmt::format("troupe-node [{}]: {}: stopping the job (job.max_refused_in_a_row = {}); check its data "
                             "and lower the learning rate\n",
                             st.ctx->node, reason, st.core->options().max_refused_in_a_row);
    finish(self, reason, true);
    return;
  }
  after_change(self, out);
  if (st.fail_at_version >= 0 && !st.finished && st.core->version() >= static_cast<std::uint64_t>(st.fail_at_version)) {
    std::cerr << fmt::format("troupe-node [{}]: {} failed: injected failure at version {} (test hook)\n", st.ctx->node,
                             ps::aggregator_shard_name(st.shard), st.core->version());
    self->quit(caf::make_error(caf::sec::runtime_error, "injected aggregator failure (test hook)"));
  }
}

/// What follows a change of the parameters or clocks (a push, or a trainer removed): parameters
/// to the released trainers, progress, evaluations, the end of the job, periodic checkpoints.
void after_change(caf::stateful_actor<aggregator_state>* self, const push_outcome& out) {
  auto& st = self->state;
  // One params message per node, addressed to all its released trainers: a node hosting several
  // trainers receives the parameters once and hands the same buffer to each of them.
  std::map<std::string, std::vector<std::string>> per_node;
  for (std::size_t r : out.released)
    per_node[st.ctx->where.trainer_nodes[r]].push_back(trainer_name(r));
  for (auto& [node, to] : per_node)
    st.ctx->send(node, encode(ps::params_update{st.core->gate_clock(), st.core->version(), params_of(st), st.shard},
                              std::move(to)));
  // Backup trainers: a late trainer that rounds closed without is told its new clock and the parameters.
  for (std::size_t r : out.resync)
    welcome(st, r);
  if (st.shard == 0)
    progress(st, false);
  const auto& o = st.core->options();
  const auto& eval = st.ctx->topo.job.evaluation;
  bool evaluated = false;
  while (st.evaluated_epochs < st.core->min_clock() / o.steps_per_epoch) {
    ++st.evaluated_epochs;
    if (eval.every_epochs > 0 && (st.evaluated_epochs % eval.every_epochs == 0 || st.evaluated_epochs == o.epochs)) {
      evaluation_point(st, st.evaluated_epochs);
      evaluated = true;
    }
  }
  // Step-based evaluation (e.g. for time-to-accuracy): every `every_steps` clocks of the slowest trainer.
  if (eval.every_steps > 0 && st.core->min_clock() >= st.next_step_eval) {
    if (!evaluated)
      evaluation_point(st, st.core->min_clock() / o.steps_per_epoch + 1);
    st.next_step_eval = (st.core->min_clock() / eval.every_steps + 1) * eval.every_steps;
  }
  if (st.core->done()) {
    done(self);
    return;
  }
  maybe_checkpoint(st);
}

/// This shard has applied every clock of the job: one aggregator is done; sharded, shard 0 ends
/// the job once every shard's final range is in (shard_done).
void done(caf::stateful_actor<aggregator_state>* self) {
  if (shard_done(self->state))
    finish(self, "done");
}

/// on_trainer_loss: shrink — a lost node's trainers leave the job; rounds that only waited for
/// them complete now.
void remove_node(caf::stateful_actor<aggregator_state>* self, const std::string& node) {
  if (auto out = drop_trainers_of(self->state, node))
    after_change(self, *out);
}

/// on_trainer_loss: shrink — a returning node's trainers are re-synced (welcome: their clock and
/// the parameters) and take part again from that clock.
void readmit_node(caf::stateful_actor<aggregator_state>* self, const std::string& node) {
  for (std::size_t r : readmit_trainers_of(self->state, node))
    welcome(self->state, r);
}

/// How often the aggregator checks for silent nodes: a tenth of the failure timeout (at most a
/// heartbeat), so a dead node is declared lost at most 1.1 failure timeouts after its last message.
std::chrono::milliseconds liveness_interval(const runtime::node_context& ctx) {
  const auto& c = ctx.topo.cluster;
  return std::chrono::milliseconds(
      std::max(10L, static_cast<long>(1000 * std::min(c.heartbeat_s, c.failure_timeout_s / 10))));
}

/// How long the aggregator waits without any message before it gives up with an error.

long idle_limit_s(const runtime::node_context& ctx) {
  return static_cast<long>(std::max(60.0, 4 * ctx.topo.cluster.connect_timeout_s));
}

/// Sets up the aggregator: evaluation engine and test split, the core (resumed from the newest
/// checkpoint if there is one), and says what it runs.
void start(aggregator_state& st, const std::shared_ptr<const runtime::node_context>& ctx) {
  st.alive =
      std::make_unique<ps::liveness>(std::chrono::duration<double>(ctx->topo.cluster.failure_timeout_s), ctx->node);
  const auto& job = ctx->topo.job;
  const std::size_t trainers = ctx->where.trainers();
  // Evaluation threads: the cores not taken by this node's own trainers.
  const std::size_t local_trainers = ctx->where.ranks_on(ctx->node).size();
  st.engine =
      std::make_unique<train::gradient_engine>(ctx->model, job.seed, local_trainers == 0 && st.shard == 0 ? 2 : 1);
  if (st.shard == 0) // only shard 0 evaluates
    st.test = data::load_fashion_mnist(job.data.dir, false, data::fashion_mnist::normalization(job.data.normalize),
                                       job.data.max_test);
  // The loader's schedule fixes the clocks per epoch; the aggregator derives the same number from
  // the size of the training split (its label file is small; the images stay with the loader).
  const auto labels = data::read_idx(data::fashion_mnist::labels_path(job.data.dir, true));
  TROUPE_ENFORCE(!labels.dims.empty(), "training labels without dimensions");
  const std::size_t train_n =
      job.data.max_train > 0 ? std::min<std::size_t>(job.data.max_train, labels.dims[0]) : std::size_t{labels.dims[0]};
  ps::aggregator_options o;
  o.gate = {job.consistency.mode, job.consistency.staleness};
  o.trainers = trainers;
  o.steps_per_epoch = ps::loader_core(train_n, trainers, job.batch_size, job.seed, job.epochs).steps_per_epoch();
  o.epochs = job.epochs;
  o.optimizer = {job.optimizer.kind,         job.optimizer.momentum, job.optimizer.dampening, job.optimizer.nesterov,
                 job.optimizer.weight_decay, job.optimizer.beta1,    job.optimizer.beta2,     job.optimizer.eps};
  o.schedule = {job.schedule.kind,   job.optimizer.lr,          job.schedule.step_epochs,        job.schedule.gamma,
                job.schedule.min_lr, job.schedule.warmup_steps, job.schedule.warmup_start_factor};
  o.refuse_nonfinite = job.on_nonfinite_gradient == config::nonfinite_policy::refuse;
  o.max_refused_in_a_row = job.max_refused_in_a_row;
  o.backup_trainers = job.backup_trainers;
  bool elastic = false;
  for (const auto& node : ctx->topo.cluster.nodes)
    elastic = elastic || node.joins_later;
  if (!o.gate.synchronous() && (job.balance.speed || elastic))
    o.global_batch = trainers * job.batch_size; // the loader cuts each clock's N·b samples (ps/loader_core.hpp)
  // This shard's range of the parameters: its master copy, optimizer state and checkpoint part.
  st.full_layout = st.engine->layout();
  st.ranges = ps::plan_shards(st.full_layout.total, ctx->where.shards());
  const auto range = st.ranges.at(st.shard);
  const auto initial = st.engine->initial_parameters();
  st.core =
      std::make_unique<aggregator_core>(o, ps::slice_layout(st.full_layout, range),
                                        std::vector<float>(initial.begin() + static_cast<std::ptrdiff_t>(range.begin),
                                                           initial.begin() + static_cast<std::ptrdiff_t>(range.end)));
  st.next_step_eval = job.evaluation.every_steps;
  st.store =
      std::make_unique<train::checkpoint_store>(shard_checkpoint_dir(st, st.shard).string(), ctx->topo.checkpoint.keep);
  if (sharded(st)) // resumes once every shard has said which checkpoint steps it holds (on_parts)
    st.initial_range.assign(initial.begin() + static_cast<std::ptrdiff_t>(range.begin),
                            initial.begin() + static_cast<std::ptrdiff_t>(range.end));
  else
    resume_if_possible(st);
  if (st.shard > 0) {
    ctx->line(fmt::format("=> aggregator shard {} of {} on '{}': parameters [{}, {}) ({} floats)", st.shard,
                          st.ranges.size(), ctx->node, range.begin, range.end, range.size()));
    return;
  }
  if (!o.gate.synchronous() && trainers > 1 && job.optimizer.kind == "sgd" && job.optimizer.momentum > 0)
    ctx->line(fmt::format("=> note: {} with {} trainers and momentum {}: stale gradients already act as momentum "
                          "(about 1 - 1/N); if training diverges, lower the momentum (0 is safe)",
                          config::to_string(job.consistency.mode), trainers, job.optimizer.momentum));
  ctx->line(fmt::format("=> aggregator on '{}': model '{}' ({} parameters), {} trainer(s) x batch {}, {} clocks/epoch, "
                        "{} epochs, {}{}{}{}{}",
                        ctx->node, ctx->model.name, st.full_layout.total, trainers, job.batch_size, o.steps_per_epoch,
                        o.epochs, config::to_string(job.consistency.mode),
                        job.consistency.mode == config::consistency::ssp
                            ? fmt::format(" (staleness {})", job.consistency.staleness)
                            : std::string(),
                        // the non-default fault policies only
                        job.on_trainer_loss == config::trainer_loss_policy::shrink ? ", on_trainer_loss: shrink" : "",
                        o.refuse_nonfinite ? "" : ", on_nonfinite_gradient: apply",
                        sharded(st) ? fmt::format(", {} aggregator shards", st.ranges.size()) : std::string()));
}

/// The "rewind" event: which shard restarted, the step every shard went back to.
void record_rewind(aggregator_state& st, const ps::rewind& r) {
  auto rec = make_record(st.ctx->node, ps::aggregator_shard_name(st.shard), "aggregator", st.core->min_clock());
  rec["event"] = "rewind";
  rec["shard"] = r.shard;
  rec["step"] = r.step;
  rec["version"] = st.core->version();
  st.ctx->record(rec.dump());
}

/// A node may only speak for the trainers the topology places on it: anything else is refused,
/// logged with both names and counted.
void report_unauthorized(aggregator_state& st, const net::message& m, const std::string& claimed,
                         const std::string& owner) {
  ++st.refused_unauthorized;
  ++*st.ctx->refused_unauthorized;
  std::cerr << fmt::format("troupe-node [{}]: refused {} as {} from node '{}': that actor runs on node '{}'\n",
                           st.ctx->node, net::to_string(m.h.type), claimed, m.h.sender, owner);
  auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
  r["event"] = "refused";
  r["target"] = claimed;
  r["from"] = m.h.sender;
  r["reason"] = "unauthorized";
  st.ctx->record(r.dump());
}

void speaks_for_loader_refused(aggregator_state& st, const net::message& m) {
  report_unauthorized(st, m, loader_name, st.ctx->where.loader_node);
}

bool speaks_for(aggregator_state& st, const net::message& m, std::size_t rank) {
  if (rank >= st.ctx->where.trainers())
    throw error(fmt::format("{} from trainer rank {} but the job has {} trainers", net::to_string(m.h.type), rank,
                            st.ctx->where.trainers()));
  if (st.ctx->where.hosts_trainer(m.h.sender, rank))
    return true;
  report_unauthorized(st, m, trainer_name(rank), st.ctx->where.trainer_nodes[rank]);
  return false;
}

/// A trainer of another job (another model, seed, optimizer, ...) must not join: the first key
/// that differs is named on both sides, once per node.
/// An actor of another job (another model, seed, optimizer, ...) must not join: it is told why
/// (reject: the first key that differs, on both sides) and its node ends; logged once per node.
bool same_job(aggregator_state& st, const net::message& m, const ps::hello& h) {
  const auto mismatch = config::job_mismatch(st.ctx->job_fingerprint, h.job, "on node '" + m.h.sender + "'");
  if (!mismatch)
    return true;
  const std::string& why = *mismatch;
  const std::string who = h.loader ? loader_name : trainer_name(h.rank);
  ++st.refused_other_job;
  ++*st.ctx->refused_unauthorized;
  st.ctx->send(m.h.sender, encode(ps::reject{"another job: " + why}, who));
  if (st.other_job_logged.insert(m.h.sender).second) {
    std::cerr << fmt::format("troupe-node [{}]: refused {} from node '{}': it runs another job: {}\n", st.ctx->node,
                             who, m.h.sender, why);
    auto r = make_record(st.ctx->node, aggregator_name, "aggregator", st.core->min_clock());
    r["event"] = "refused";
    r["target"] = who;
    r["from"] = m.h.sender;
    r["reason"] = "other_job";
    r["detail"] = why;
    st.ctx->record(r.dump());
  }
  return false;
}

/// Training starts once every trainer and the loader (of the same job) have said hello; in an
/// elastic job, every trainer but those of free places nobody has taken yet, which start absent.
void start_if_ready(aggregator_state& s) {
  if (s.started || s.census || (s.shard == 0 && !s.loader_ready))
    return;
  for (std::size_t r = 0; r < s.ctx->where.trainers(); ++r)
    if (s.hello_from.count(r) == 0 && awaited_at_start(s, r))
      return;
  s.started = true;
  s.started_at = s.last_line_at = clock_type::now();
  leave_free_places(s);
  for (std::size_t r = 0; r < s.ctx->where.trainers(); ++r)
    if (s.core->present(r))
      welcome(s, r);
}

/// Sharded: this shard (re)started at its current step; every shard rewinds there in a new
/// generation, and this one welcomes the trainers at once (they are known: placement).
void start_rewind(aggregator_state& st) {
  st.generation = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  const ps::rewind r{st.shard, st.core->version(), st.generation};
  for (std::size_t t = 0; t < st.ranges.size(); ++t)
    if (t != st.shard)
      st.ctx->send(st.ctx->where.shard_nodes[t], encode(r, ps::aggregator_shard_name(t)));
  st.ctx->line(fmt::format("=> aggregator shard {} (re)started at checkpoint step {}: every shard rewinds there",
                           st.shard, r.step));
  record_rewind(st, r);
  st.started = true;
  st.started_at = st.last_line_at = clock_type::now();
  for (std::size_t rank = 0; rank < st.ctx->where.trainers(); ++rank)
    welcome(st, rank);
}

/// Sharded: a message as another shard (`what`) must come from the node that hosts it.
void check_shard_sender(const aggregator_state& st, std::size_t shard, const net::message& m, const char* what) {
  if (!sharded(st) || shard >= st.ranges.size() || shard == st.shard || st.ctx->where.shard_nodes[shard] != m.h.sender)
    throw error(
        fmt::format("{} as aggregator shard {} from node '{}', which does not host it", what, shard, m.h.sender));
}

/// Sharded: another shard restarted; go back to its step and welcome the trainers again. An
/// older generation (a rewind already followed) is ignored.
void follow_rewind(aggregator_state& st, const ps::rewind& r) {
  if (r.generation <= st.generation)
    return;
  st.generation = r.generation;
  if (st.core->version() != r.step || !st.core->at_round_boundary())
    rewind_to(st, r.step);
  drop_parts_after(st, r.step);
  record_rewind(st, r);
  st.started = true;
  for (std::size_t rank = 0; rank < st.ctx->where.trainers(); ++rank)
    welcome(st, rank);
}

void on_rewind(aggregator_state& st, const net::message& m) {
  const auto r = ps::decode_rewind(m);
  check_shard_sender(st, r.shard, m, "a rewind");
  if (st.census) { // this shard is (re)starting: it follows the newest rewind once it knows its own step
    if (!st.census_rewind || r.generation > st.census_rewind->generation)
      st.census_rewind = r;
    return;
  }
  follow_rewind(st, r);
}

/// Sharded: asks every shard not heard from yet which checkpoint steps it holds.
void ask_for_parts(aggregator_state& st) {
  st.census_asked = agg_clock::now();
  const ps::parts own{st.shard, st.store->steps(), false, false};
  for (std::size_t t : st.census->missing())
    st.ctx->send(st.ctx->where.shard_nodes[t], encode(own, ps::aggregator_shard_name(t)));
}

/// Sharded: this shard (re)starts. It learns from every shard which checkpoint steps it holds
/// (each lists only its own directory: no shared filesystem needed) before it resumes.
void begin_census(aggregator_state& st) {
  st.census.emplace(st.ranges.size(), st.shard, st.store->steps());
  st.census_since = agg_clock::now();
  ask_for_parts(st); // sharded means K > 1: the census completes with the answers (on_parts)
}

/// Sharded: every shard has answered. This shard resumes from the newest step all of them hold;
/// if it replaces a failed incarnation, resumed from a checkpoint or joins shards already running
/// the job, every shard goes back there with it (start_rewind). A rewind another shard sent in
/// the meantime is followed if nothing of this shard's own calls for one.
void end_census(aggregator_state& st) {
  const auto step = st.census->newest_common();
  const bool joins_running = st.census->others_running();
  st.census.reset();
  try {
    resume_if_possible(st, step);
  } catch (const std::exception& e) { // an unreadable part, another seed: this shard cannot start
    st.start_failure = fmt::format("{} failed to start: {}", ps::aggregator_shard_name(st.shard), e.what());
    std::cerr << fmt::format("troupe-node [{}]: {}\n", st.ctx->node, st.start_failure);
    return;
  }
  drop_parts_after(st, step.value_or(0));
  if (st.failed_at > 0 || st.core->version() > 0 || joins_running)
    start_rewind(st);
  else if (st.census_rewind)
    follow_rewind(st, *st.census_rewind);
  else
    start_if_ready(st);
  st.census_rewind.reset();
}

/// Sharded: another shard's checkpoint steps. A question is answered with this shard's own (at any
/// time); during this shard's census the answer counts, and the last one missing ends it.
void on_parts(aggregator_state& st, const net::message& m) {
  const auto p = ps::decode_parts(m);
  check_shard_sender(st, p.shard, m, "checkpoint parts");
  if (!p.answer)
    st.ctx->send(m.h.sender, encode(ps::parts{st.shard, st.store->steps(), true, st.started && !st.census},
                                    ps::aggregator_shard_name(p.shard)));
  if (!st.census)
    return;
  st.census->heard(p.shard, p.steps, p.running);
  if (st.census->complete())
    end_census(st);
}

void on_hello(aggregator_state& s, const net::message& m) {
  if (ps::is_rewind(m)) {
    on_rewind(s, m);
    return;
  }
  if (ps::is_parts(m)) {
    on_parts(s, m);
    return;
  }
  const auto h = ps::decode_hello(m);
  if (h.loader && s.shard == 0) {
    if (m.h.sender != s.ctx->where.loader_node) {
      speaks_for_loader_refused(s, m);
      return;
    }
    if (!same_job(s, m, h))
      return;
    if (s.balance_cuts.empty()) {
      s.loader_ready = true;
      start_if_ready(s);
    } else {
      // It holds the cuts still in use before it serves a batch: ready once it says so (on_balance_cuts).
      std::vector<ps::balance_cut> cuts;
      for (const auto& [from, cut] : s.balance_cuts)
        cuts.push_back(cut);
      s.ctx->send(s.ctx->where.loader_node, encode(ps::balance_cuts{cuts, false}, loader_name));
    }
    return;
  }
  if (!speaks_for(s, m, h.rank) || !same_job(s, m, h))
    return;
  s.hello_from.insert(h.rank);
  if (s.started && !s.core->present(h.rank) && s.shard == 0) {
    // A trainer process took a free place (elastic), or a lost node's trainer is back before its
    // silence was noticed: it takes part again from the clock readmission gives it.
    for (std::size_t r : readmit_trainers_of(s, m.h.sender))
      welcome(s, r);
  } else if (s.started) {
    welcome(s, h.rank, h.at_clock); // it missed the first welcome (or restarted), or waits and asks again
  } else if (s.shard == 0 && !s.loader_ready) {
    // the trainers' hello retries are the loader's too: ask it again
    s.ctx->send(s.ctx->where.loader_node, encode(ps::hello{0, {}, false}, loader_name));
  } else {
    start_if_ready(s);
  }
}

/// The loader decided cuts (kept while in use: for checkpoints), or holds the ones it was given.
void on_balance_cuts(aggregator_state& s, const net::message& m) {
  if (s.shard != 0 || m.h.sender != s.ctx->where.loader_node) {
    speaks_for_loader_refused(s, m);
    return;
  }
  const auto b = ps::decode_balance_cuts(m);
  if (b.held) {
    s.loader_ready = true;
    start_if_ready(s);
    return;
  }
  for (const auto& cut : b.cuts)
    s.balance_cuts[cut.from_clock] = cut;
  // The cut the slowest trainer is in, and all later ones, are still in use.
  auto in_use = s.balance_cuts.upper_bound(s.core->min_clock());
  if (in_use != s.balance_cuts.begin())
    s.balance_cuts.erase(s.balance_cuts.begin(), std::prev(in_use));
}

void on_message(caf::stateful_actor<aggregator_state>* self, const net::message& m) {
  auto& s = self->state;
  try {
    if (s.shard == 0 && heard_from(s, m.h.sender)) // membership is shard 0's (one aggregator's)
      readmit_node(self, m.h.sender);
    s.heard_anyone = clock_type::now();
    if (m.h.sender == s.ctx->where.aggregator_node)
      s.heard_coordinator = s.heard_anyone;
    switch (m.h.type) {
    case net::msg_type::heartbeat:
      break;
    case net::msg_type::params: // sharded: another shard's range, for evaluation and the final model
      if (take_shard_report(s, m))
        finish(self, "done");
      break;
    case net::msg_type::hello:
      on_hello(s, m);
      break;
    case net::msg_type::push_gradient:
      on_push(self, m);
      break;
    case net::msg_type::balance_cuts:
      on_balance_cuts(s, m);
      break;
    case net::msg_type::shutdown: // a trainer or the loader was stopped: end the job for everyone
      ps::decode_shutdown(m);
      if (s.shard > 0 && m.h.sender != s.ctx->where.aggregator_node)
        throw error("only shard 0 ends a shard's part of the job");
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
  if (!s.write_failure.empty() && !s.finished) // checkpoint.on_write_error: stop
    finish(self, s.write_failure, true);
  if (!s.start_failure.empty() && !s.finished) // sharded: the resume after the census failed
    finish(self, s.start_failure, true);
}

/// Nothing arrived for the idle limit: say who is missing and end the job in failure.
void give_up_idle(caf::stateful_actor<aggregator_state>* self) {
  auto& s = self->state;
  std::vector<std::string> missing;
  for (std::size_t r = 0; r < s.ctx->where.trainers(); ++r)
    if (!s.started ? s.hello_from.count(r) == 0 : s.core->clock_of(r) == s.core->min_clock())
      missing.push_back(fmt::format("{} on '{}'", trainer_name(r), s.ctx->where.trainer_nodes[r]));
  if (!s.started && !s.loader_ready && s.shard == 0)
    missing.push_back(fmt::format("the loader on '{}'", s.ctx->where.loader_node));
  std::cerr << fmt::format("troupe-node [{}]: aggregator {} for {} s; {}: {}\n", s.ctx->node,
                           s.started ? "heard nothing" : "could not start the job", idle_limit_s(*s.ctx),
                           s.started ? "slowest trainers" : "never said hello", fmt::join(missing, ", "));
  finish(self, s.started ? "no trainer activity" : "never started", true);
}

caf::behavior aggregator_actor(caf::stateful_actor<aggregator_state>* self,
                               std::shared_ptr<const runtime::node_context> ctx, std::size_t shard,
                               std::int64_t fail_at_version, double failed_at) {
  self->state.ctx = ctx;
  self->state.shard = shard;
  self->state.fail_at_version = fail_at_version;
  self->state.failed_at = failed_at;
  try {
    start(self->state, ctx);
  } catch (const std::exception& e) {
    // Exit with the cause as the reason (a rethrow would reach the supervisor as a bare
    // "runtime_error"), so its failure and escalation records and the node's exit say why.
    const auto why = fmt::format("aggregator failed to start: {}", e.what());
    std::cerr << fmt::format("troupe-node [{}]: {}\n", ctx->node, why);
    self->quit(caf::make_error(caf::sec::runtime_error, why));
    return {};
  }
  // Trainers that outlived a previous aggregator (it was restarted) say hello and re-sync at once
  // instead of after their retry interval; trainers not running yet say hello when they start.
  for (std::size_t r = 0; r < ctx->where.trainers(); ++r)
    if (reachable(self->state, r))
      ctx->send(ctx->where.trainer_nodes[r], encode(ps::hello{r, {}, false}, trainer_name(r)));
  if (shard == 0)
    ctx->send(ctx->where.loader_node, encode(ps::hello{0, {}, false}, loader_name));
  // A shard resumes from the newest checkpoint step every shard holds, learned from them; if it
  // replaces a failed one, resumed or finds the others running, all go back to its step together.
  if (sharded(self->state))
    begin_census(self->state);
  self->delayed_send(self, liveness_interval(*ctx), tick_atom::value);
  return {
      [=](inbound& in) {
        // Only the actor itself may read its mailbox (runtime/queue_gauges.hpp).
        self->state.ctx->mailboxes->set(aggregator_name, self->mailbox().size());
        on_message(self, *in.msg);
      },
      [=](stop_atom) { finish(self, "stopped"); },
      [=](tick_atom) {
        auto& s = self->state;
        if (s.shard == 0 && s.awaiting_final && !s.finished &&
            clock_type::now() - s.awaiting_since > std::chrono::seconds(idle_limit_s(*s.ctx))) {
          // A job always ends: shards whose final range never came (their node is gone, or what
          // they sent was refused) are named, and the job ends in failure.
          std::vector<std::string> missing;
          for (std::size_t t = 1; t < s.ranges.size(); ++t)
            if (s.final_params.got.empty() || !s.final_params.got[t])
              missing.push_back(fmt::format("{} on '{}'", ps::aggregator_shard_name(t), s.ctx->where.shard_nodes[t]));
          finish(self,
                 fmt::format("no final parameters from {} within {} s", fmt::join(missing, ", "), idle_limit_s(*s.ctx)),
                 true);
          return;
        }
        if (s.census) {
          // A shard that does not say which checkpoint steps it holds is not there: ask again
          // once a second, and give up after the time a lost shard is given.
          const auto gone = std::chrono::duration<double>(s.ctx->topo.cluster.aggregator_gone_after_s());
          if (agg_clock::now() - s.census_since > gone) {
            std::vector<std::string> missing;
            for (std::size_t t : s.census->missing())
              missing.push_back(
                  fmt::format("{} on node '{}'", ps::aggregator_shard_name(t), s.ctx->where.shard_nodes[t]));
            const auto why = fmt::format(
                "{} cannot start: {} did not say which checkpoint steps {} within {:.0f} s; start {} with the same "
                "command",
                ps::aggregator_shard_name(s.shard), fmt::join(missing, ", "),
                missing.size() == 1 ? "it holds" : "they hold", gone.count(), missing.size() == 1 ? "it" : "them");
            std::cerr << fmt::format("troupe-node [{}]: {}\n", s.ctx->node, why);
            finish(self, why, true);
            return;
          }
          if (agg_clock::now() - s.census_asked >= std::chrono::seconds(1))
            ask_for_parts(s);
        }
        if (!s.started && !s.finished &&
            clock_type::now() - s.created_at > std::chrono::seconds(idle_limit_s(*s.ctx))) {
          give_up_idle(self); // trainers keep saying hello, but the job cannot start: say who is missing
          return;
        }
        // Messages still queued (this actor was busy: a long evaluation or checkpoint) are read
        // first: silence is judged only on an empty mailbox.
        const bool caught_up = self->mailbox().size() == 0;
        // Every other node's runtime sends this shard heartbeats, so total silence means every
        // other node is gone. Not with trainers in this process: a long step of theirs is silence too.
        if (caught_up && s.started && !s.finished && s.ctx->where.ranks_on(s.ctx->node).empty() &&
            clock_type::now() - s.heard_anyone > std::chrono::seconds(idle_limit_s(*s.ctx))) {
          give_up_idle(self);
          return;
        }
        // A node gone for good ends the job instead of holding it: another shard's, or (bsp waits
        // for every trainer) a trainer node's with on_trainer_loss: wait.
        std::optional<std::string> why;
        if (caught_up)
          why = shard_gone(s);
        if (caught_up && !why)
          why = trainer_gone(s);
        if (why) {
          std::cerr << fmt::format("troupe-node [{}]: {} ends the job: {}\n", s.ctx->node,
                                   s.shard == 0 ? std::string("the aggregator") : ps::aggregator_shard_name(s.shard),
                                   *why);
          finish(self, *why, true);
          return;
        }
        try {
          // Membership is shard 0's (the other shards only watch shard 0's node: shard_gone).
          for (const auto& node : s.shard == 0 ? check_liveness(self->state) : std::vector<std::string>{})
            remove_node(self, node);
        } catch (const std::exception& e) {
          std::cerr << fmt::format("troupe-node [{}]: aggregator failed to drop a lost node's trainers: {}\n",
                                   self->state.ctx->node, e.what());
        }
        self->delayed_send(self, liveness_interval(*self->state.ctx), tick_atom::value);
      },
  };
}

} // namespace

caf::actor spawn_aggregator(caf::actor_system& sys, std::shared_ptr<const runtime::node_context> ctx, std::size_t shard,
                            std::int64_t fail_at_version, double failed_at) {
  return sys.spawn<caf::detached>(aggregator_actor, std::move(ctx), shard, fail_at_version, failed_at);
}

} // namespace troupe::actors
