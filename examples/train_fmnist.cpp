// Trains the reference CNN on Fashion-MNIST in one process, evaluates on the 10k test images after
// every epoch and keeps model_latest.trpm and model_best.trpm in the output directory.
//
//   ./build/examples/troupe-train                      # the default recipe (>= 0.90 test accuracy)
//   ./build/examples/troupe-train --evaluate runs/fmnist/model_best.trpm
//
// Expected output (times vary):
//   => model 'fmnist-cnn' (421642 parameters), 60000 training / 10000 test images, batch 64, 2 thread(s), seed 1
//   Epoch: [1][   1/938]  Time  0.031 ( 0.031)  Data  0.000 ( 0.000)  Loss 2.3156e+00 (2.3156e+00)  Acc@1 ...
//   ...
//    * Epoch 6 test: Acc@1 91.18  Acc@5 99.88  Loss 0.2462  (10000 images, 1.0 s)

#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/error.hpp"
#include "data/fashion_mnist.hpp"
#include "train/fit.hpp"
#include "train/process_tuning.hpp"

int main(int argc, char** argv) {
  troupe::train::fit_options o;
  o.model_path = TROUPE_DEFAULT_MODEL;
  o.epochs = 6;
  o.schedule.kind = "cosine";
  o.schedule.base_lr = 0.05f;
  o.optimizer.momentum = 0.9f;
  o.optimizer.weight_decay = 5e-4f;
  std::string evaluate_path;

  CLI::App app{"Troupe one-process trainer: the reference CNN on Fashion-MNIST"};
  app.add_option("--model", o.model_path, "Model description (YAML)")->capture_default_str();
  app.add_option("--data", o.data_dir, "Directory with the Fashion-MNIST IDX files")->capture_default_str();
  app.add_option("--epochs", o.epochs, "Training epochs")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch-size", o.batch_size, "Images per step")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "Worker threads (one model replica each)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "Seed for initialisation, shuffling and dropout (same seed, same run)")
      ->capture_default_str();
  app.add_option("--optimizer", o.optimizer.kind, "sgd | adam | adamw")->capture_default_str();
  app.add_option("--lr", o.schedule.base_lr, "Base learning rate")->capture_default_str();
  app.add_option("--momentum", o.optimizer.momentum, "SGD momentum")->capture_default_str();
  app.add_flag("--nesterov", o.optimizer.nesterov, "Nesterov momentum");
  app.add_option("--weight-decay", o.optimizer.weight_decay, "L2 weight decay")->capture_default_str();
  app.add_option("--schedule", o.schedule.kind, "constant | step | cosine")->capture_default_str();
  app.add_option("--step-epochs", o.schedule.step_epochs, "step schedule: decay every N epochs")->capture_default_str();
  app.add_option("--gamma", o.schedule.gamma, "step schedule: decay factor")->capture_default_str();
  app.add_option("--warmup-steps", o.schedule.warmup_steps, "Linear warm-up steps")->capture_default_str();
  app.add_option("--out", o.out_dir, "Output directory (models, metrics.jsonl)")->capture_default_str();
  app.add_option("--print-freq", o.print_freq, "Progress line every N steps")->capture_default_str();
  app.add_option("--max-train", o.max_train_samples, "Use only the first N training images (0 = all)")
      ->capture_default_str();
  app.add_option("--max-test", o.max_test_samples, "Use only the first N test images (0 = all)")->capture_default_str();
  app.add_flag("--normalize", o.normalization.enabled, "Normalise pixels with the Fashion-MNIST mean/std");
  app.add_option("--crop-padding", o.augment.crop_padding,
                 "Augment: pad each training image by N pixels and crop a random 28x28 window (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 27));
  app.add_flag("--hflip", o.augment.horizontal_flip, "Augment: mirror each training image left-right with p = 0.5");
  app.add_option("--evaluate", evaluate_path,
                 "Evaluate-only: load this saved model and report test loss, top-1, top-5");
  CLI11_PARSE(app, argc, argv);
  o.normalization = troupe::data::fashion_mnist::normalization(o.normalization.enabled);

  troupe::train::tune_allocator();
  try {
    if (!evaluate_path.empty()) {
      const auto r = troupe::train::evaluate_saved(o.model_path, evaluate_path, o.data_dir, o.threads,
                                                   o.max_test_samples, o.normalization);
      fmt::print(" * {}: test Loss {:.4f}  Acc@1 {:.2f}  Acc@5 {:.2f}  ({} images)\n", evaluate_path, r.loss,
                 100.0 * r.top1, 100.0 * r.top5, r.n);
      return 0;
    }
    troupe::train::fit(o, std::cout);
  } catch (const std::exception& e) {
    std::cerr << "troupe-train: error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
