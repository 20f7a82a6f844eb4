#pragma once
/// The `job` section of a topology file: what to train, on which data, how, and how consistently.
///
/// The option structs mirror train::optimizer_options and optim::lr_schedule_options field by
/// field (config/ must not depend on train/ or tensor/); optimizer_spec::lr is the schedule's base_lr.

#include <cstddef>
#include <cstdint>
#include <string>

#include "config/augment_spec.hpp"

namespace troupe::config {

class yaml_cursor;

/// Where the training data is and how much of it to use.
struct data_spec {
  std::string dir =
      "/usr/share/datasets/fashion-mnist"; ///< a relative dir is resolved against the topology file's directory
  std::size_t max_train = 0;               ///< 0 = the whole training split
  std::size_t max_test = 0;                ///< 0 = the whole test split
  bool normalize = false;                  ///< per-pixel standardisation after scaling to [0, 1]
  std::string dir_where;                   ///< "file:line:col" (or "--set ...") of data.dir; empty for the default
};

/// Mirrors train::optimizer_options (plus the learning rate); only the fields of `kind` matter.
struct optimizer_spec {
  std::string kind = "sgd";                        ///< sgd | adam | adamw
  float lr = 0.05f;                                ///< base learning rate, >= 0 (lr_schedule_options::base_lr)
  float momentum = 0.9f;                           ///< sgd, >= 0
  float dampening = 0;                             ///< sgd, in [0, 1]
  bool nesterov = false;                           ///< sgd; needs momentum > 0 and dampening 0
  float weight_decay = 5e-4f;                      ///< >= 0
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f; ///< adam, adamw: betas in [0, 1), eps >= 0
};

/// Mirrors optim::lr_schedule_options without base_lr (that is optimizer_spec::lr).
struct schedule_spec {
  std::string kind = "cosine";      ///< constant | step | cosine
  std::size_t step_epochs = 30;     ///< step: decay every this many epochs (> 0)
  float gamma = 0.1f;               ///< step: decay factor (>= 0)
  float min_lr = 0;                 ///< cosine: final rate, in [0, optimizer lr]
  std::size_t warmup_steps = 0;     ///< linear warm-up length in steps, for any kind
  float warmup_start_factor = 0.1f; ///< factor at step 0 of the warm-up, in [0, 1]
};

/// How far trainers may run ahead of the slowest one.
enum class consistency {
  bsp, ///< bulk synchronous: every step waits for all trainers
  ssp, ///< stale synchronous: a trainer may be at most `staleness` steps ahead of the slowest
  asp, ///< asynchronous: no waiting
};

struct consistency_spec {
  consistency mode = consistency::bsp;
  std::size_t staleness = 0; ///< ssp only; ssp with 0 behaves as bsp
};

/// When to evaluate on the test split; 0 turns a trigger off (both 0: never during training).
struct evaluation_spec {
  std::size_t every_epochs = 1;
  std::size_t every_steps = 0;
};

/// What the aggregator does with a pushed gradient that holds NaN or ±Inf.
enum class nonfinite_policy {
  refuse, ///< not applied; a `gradient_refused` event; N refusals in a row from one trainer stop the job
  apply,  ///< applied unchecked (the behaviour before the check existed)
};

/// What a bsp round does when a trainer's node is declared lost (silent for cluster.failure_timeout_s).
enum class trainer_loss_policy {
  wait,   ///< the round waits until the trainer comes back
  shrink, ///< rounds complete with the trainers present; a returning trainer is re-synced and rejoins
};

/// `job.balance`: how a clock's global batch (trainers x batch_size samples) is cut among the
/// trainers. off: batch_size each (today's sharding). speed: in shares proportional to each
/// trainer's measured throughput (smoothed), re-cut every `every_clocks` clocks, each share at
/// least `floor` x batch_size. The aggregator weights gradients by samples (bsp: the round's
/// sample-weighted mean; ssp/asp: each push by its share of the global batch), so a clock moves
/// the parameters as far either way; only who computes which sample changes.
struct balance_spec {
  bool speed = false;
  std::size_t every_clocks = 10;
  double floor = 0.25;
};

/// `job.compression`: how gradients (trainer -> aggregator) and parameters (aggregator -> trainer)
/// travel (docs/compression.md). none: 32-bit floats both ways. fp16 / bf16: 16-bit floats both
/// ways, rounded to nearest even. topk: each push sends the `ratio` x P entries of largest
/// magnitude with their positions; parameters travel as 32-bit floats. Pushes carry error feedback
/// (what a push did not send is added to the trainer's next gradient); the aggregator's master
/// weights and optimizer stay 32-bit.
enum class compression {
  none,
  fp16,
  bf16,
  topk,
};

struct compression_spec {
  compression mode = compression::none;
  double ratio = 0.01; ///< topk: the share of the gradient's entries a push sends, in (0, 1]
};

struct job_spec {
  std::string model;       ///< model YAML; a relative path in the file is resolved against the file's directory
  std::string model_where; ///< "file:line:col" (or "--set ...") of job.model, for errors about the model file
  data_spec data;
  std::size_t batch_size = 64; ///< per trainer: the global batch is batch_size * total trainers
  std::size_t epochs = 5;
  std::uint64_t seed = 1;
  optimizer_spec optimizer;
  schedule_spec schedule;
  consistency_spec consistency;
  evaluation_spec evaluation;
  nonfinite_policy on_nonfinite_gradient = nonfinite_policy::refuse;
  std::size_t max_refused_in_a_row =
      10; ///< refuse only: this many refusals in a row from one trainer stop the job (> 0)
  trainer_loss_policy on_trainer_loss = trainer_loss_policy::wait;
  balance_spec balance;
  compression_spec compression;
  augment_spec augment; ///< the loader's training-time augmentation (off unless given)
  /// bsp only: a round closes with the first N - b gradients of the N trainers; the late ones for
  /// that clock are dropped (Chen et al. 2016, backup workers; docs/stragglers.md). 0: all N.
  std::size_t backup_trainers = 0;
};

/// "bsp", "ssp" or "asp".
std::string to_string(consistency c);
/// "refuse" or "apply".
std::string to_string(nonfinite_policy p);
/// "wait" or "shrink".
std::string to_string(trainer_loss_policy p);
/// "none", "fp16", "bf16" or "topk".
std::string to_string(compression c);

/// Reads and validates the `job` section at `j`; relative input paths from the file are resolved
/// against `base_dir`, those given by `--set` are left relative to the working directory.
job_spec read_job(const yaml_cursor& j, const std::string& base_dir);

} // namespace troupe::config
