// Batch norm in a real cluster (#15 item 3, docs/runtime.md "Batch norm"): each trainer
// normalizes with its own batch's statistics, and the aggregator owns the running statistics.
// A bsp run of 2 trainers x 16 must then end where one trainer with 2 engine threads over batches
// of 32 ends: the same samples per slice (balance cuts each clock's 32 samples into contiguous
// halves, rank 0 first, exactly as the engine slices a batch between its threads), the same
// per-slice batch statistics, the same sample-weighted mean of the two halves' gradients and of
// their running-statistics updates.

#include <cmath>
#include <fstream>

#include "cluster_run.hpp"

using namespace troupe;

namespace {

/// A small model with batch norm after each conv and one batchnorm1d.
std::string bn_model(const std::filesystem::path& dir) {
  const auto path = dir / "bn_model.yaml";
  std::ofstream(path) << "name: bn-cnn\ninput: [1, 28, 28]\nlayers:\n"
                         "  - conv2d: {out_channels: 8, kernel: 3}\n  - batchnorm2d\n  - relu\n"
                         "  - maxpool2d: {kernel: 2}\n"
                         "  - conv2d: {out_channels: 8, kernel: 3}\n  - batchnorm2d\n  - relu\n"
                         "  - maxpool2d: {kernel: 2}\n  - flatten\n"
                         "  - dense: {units: 32}\n  - batchnorm1d\n  - relu\n  - dense: {units: 10}\n"
                         "loss: softmax_cross_entropy\n";
  return path.string();
}

/// The case's YAML with the batch-norm model, speed-balanced cuts that stay equal for the whole
/// run (no re-cut within it) and `threads` engine threads per trainer.
std::string bn_yaml(const test::cluster_case& c, const std::filesystem::path& dir, std::size_t threads) {
  auto yaml = test::topology_yaml(c, dir);
  const auto model_at = yaml.find("  model: ");
  yaml.replace(model_at, yaml.find('\n', model_at) - model_at, "  model: " + bn_model(dir));
  const std::string trainers = fmt::format("trainers: {}", c.trainers);
  yaml.replace(yaml.find(trainers), trainers.size(), fmt::format("{}, threads: {}", trainers, threads));
  return yaml;
}

} // namespace

TEST_CASE("bsp with batch norm: 2 trainers equal one process with 2 engine threads, running statistics included",
          "[actors][cluster][batchnorm]") {
  test::cluster_case two;
  two.trainers = 2;
  two.batch = 16;
  two.max_train = 320; // 10 clocks of 32
  two.max_test = 64;
  two.balance = "{mode: speed, every_clocks: 1000}";
  test::scratch_dir d2("bn-two");
  const auto r2 = test::run_cluster_yaml(bn_yaml(two, d2.path, 1), two, d2.path);
  INFO(r2.console);
  REQUIRE(r2.exit_code == 0);

  test::cluster_case one = two;
  one.trainers = 1;
  one.batch = 32;
  test::scratch_dir d1("bn-one");
  const auto r1 = test::run_cluster_yaml(bn_yaml(one, d1.path, 2), one, d1.path);
  INFO(r1.console);
  REQUIRE(r1.exit_code == 0);

  const auto model = train::load_model((d2.path / "checkpoints" / "model_final.trpm").string());
  REQUIRE(r1.params.size() == r2.params.size());
  std::size_t buffers = 0, moved = 0;
  for (std::size_t e = 0; e < model.layout.entries.size(); ++e) {
    const auto& entry = model.layout.entries[e];
    const bool stats = entry.name.find("running_") != std::string::npos;
    for (std::size_t i = entry.offset; i < entry.offset + entry.size; ++i) {
      CAPTURE(entry.name, i);
      REQUIRE(std::abs(r2.params[i] - r1.params[i]) <= 1e-5f * std::max(1.0f, std::abs(r1.params[i])));
      if (stats) {
        ++buffers;
        // Trained running statistics are no longer their initial values (mean 0, variance 1).
        const bool mean = entry.name.find("running_mean") != std::string::npos;
        moved += r2.params[i] != (mean ? 0.0f : 1.0f) ? 1 : 0;
      }
    }
  }
  CHECK(buffers == 2 * (8 + 8 + 32)); // mean and variance of each batch-norm layer, in the model file
  CHECK(moved > buffers * 9 / 10);
}
