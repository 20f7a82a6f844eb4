#pragma once
/// One-process training: the reference loop (shuffle, train, evaluate, keep the best model) that
/// the classic ImageNet example made familiar, on Troupe's gradient engine.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>

#include "data/augment.hpp"
#include "data/dataset.hpp"
#include "data/fashion_mnist.hpp"
#include "tensor/optim/lr_schedule.hpp"
#include "tensor/optim/optimizer_options.hpp"
#include "train/gradient_engine.hpp"

namespace troupe::train {

struct fit_options {
  std::string model_path; ///< model YAML
  std::string data_dir = data::fashion_mnist::default_dir;
  std::size_t epochs = 5;
  std::size_t batch_size = 64;
  std::size_t threads = 2; ///< replicas computing each batch in parallel
  std::uint64_t seed = 1;
  optim::optimizer_options optimizer;
  optim::lr_schedule_options schedule; ///< base_lr is the learning rate
  std::size_t print_freq = 100;        ///< progress line every this many steps (0 = never)
  std::string out_dir = "runs/fmnist"; ///< model_latest.trpm, model_best.trpm, metrics.jsonl
  std::size_t max_train_samples = 0;   ///< 0 = the whole training split
  std::size_t max_test_samples = 0;    ///< 0 = the whole test split
  data::normalization normalization;
  /// Training-time augmentation, drawn per (seed, epoch, sample) as the cluster's loader draws it
  /// (data/augment.hpp); `fill` is set by fit() from `normalization`. Off by default.
  data::augment_options augment;
};

struct eval_result {
  double loss = 0.0, top1 = 0.0, top5 = 0.0; ///< mean loss, accuracies in [0, 1]
  std::size_t n = 0;
};

struct fit_result {
  eval_result final_eval;
  double best_top1 = 0.0;
  std::size_t best_epoch = 0;
  std::size_t steps = 0;
  double train_seconds = 0.0; ///< training steps only (not evaluation)
  double images_per_second = 0.0;
  std::string latest_path, best_path;
  std::vector<float> params; ///< final parameters
};

/// Trains per `o`, evaluating on the test split after every epoch, writing progress to `log`.
fit_result fit(const fit_options& o, std::ostream& log);

/// Evaluates all samples of `ds` with parameters `params` (no graph; loss, top-1, top-5).
eval_result evaluate(gradient_engine& engine, const std::vector<float>& params, const data::dataset& ds);

/// Loads a saved model file, checks it against the model YAML and evaluates it on the test split.
eval_result evaluate_saved(const std::string& model_path, const std::string& saved_path, const std::string& data_dir,
                           std::size_t threads, std::size_t max_test_samples, const data::normalization& norm);

} // namespace troupe::train
