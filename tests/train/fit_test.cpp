#include "train/fit.hpp"

#include <filesystem>
#include <sstream>

#include "train/model_file.hpp"

#include "train_test_util.hpp"

using namespace troupe;

namespace {

train::fit_options slice_options(const std::string& out) {
  train::fit_options o;
  o.model_path = test::reference_model();
  o.epochs = 2;
  o.batch_size = 32;
  o.threads = 2;
  o.seed = 3;
  o.max_train_samples = 3000;
  o.max_test_samples = 1000;
  o.schedule.base_lr = 0.05f;
  o.schedule.kind = "cosine";
  o.print_freq = 20;
  o.out_dir = out;
  return o;
}

/// One epoch of 800 training images, tested on 100: for comparing whole runs.
train::fit_options short_options(const std::string& out) {
  auto o = slice_options(out);
  o.epochs = 1;
  o.max_train_samples = 800;
  o.max_test_samples = 100;
  return o;
}

} // namespace

TEST_CASE("training on a Fashion-MNIST slice learns far above chance and saves both models", "[train][fit][e2e]") {
  test::scratch_dir dir("fit");
  std::ostringstream log;
  const auto r = train::fit(slice_options(dir.path.string()), log);
  INFO(log.str());
  REQUIRE(r.final_eval.n == 1000);
  REQUIRE(r.final_eval.top1 > 0.65); // chance is 0.10
  REQUIRE(r.final_eval.top5 >= r.final_eval.top1);
  REQUIRE(r.steps == 2 * 94);
  REQUIRE(log.str().find("Epoch: [2][  94/94]") != std::string::npos);
  REQUIRE(std::filesystem::exists(r.latest_path));
  REQUIRE(std::filesystem::exists(r.best_path));
  REQUIRE(std::filesystem::exists(dir.path / "metrics.jsonl"));

  SECTION("evaluate-only mode reproduces the final test figures from the saved model") {
    const auto ev =
        train::evaluate_saved(test::reference_model(), r.latest_path, data::fashion_mnist::default_dir, 1, 1000, {});
    REQUIRE(ev.n == 1000);
    REQUIRE(ev.top1 == Approx(r.final_eval.top1));
    REQUIRE(ev.loss == Approx(r.final_eval.loss).epsilon(1e-4));
  }
}

TEST_CASE("the same seed gives bitwise the same trained parameters", "[train][fit][determinism]") {
  test::scratch_dir a("det-a"), b("det-b");
  auto o = short_options(a.path.string());
  std::ostringstream log;
  const auto ra = train::fit(o, log);
  o.out_dir = b.path.string();
  const auto rb = train::fit(o, log);
  REQUIRE(ra.params == rb.params);
  o.seed = 4;
  const auto rc = train::fit(o, log);
  REQUIRE(ra.params != rc.params);
}

TEST_CASE("augmentation in one-process training is drawn per (seed, epoch, sample): deterministic, and it "
          "changes the run",
          "[train][fit][augment]") {
  test::scratch_dir a("aug-a"), b("aug-b"), c("aug-c");
  auto o = short_options(a.path.string());
  std::ostringstream log;
  const auto plain = train::fit(o, log);
  o.augment.crop_padding = 2;
  o.augment.horizontal_flip = true;
  o.out_dir = b.path.string();
  const auto ra = train::fit(o, log);
  o.out_dir = c.path.string();
  const auto rb = train::fit(o, log);
  REQUIRE(ra.params == rb.params);
  REQUIRE(ra.params != plain.params);
  REQUIRE(ra.final_eval.top1 > 0.4); // still learns (chance is 0.10)
}

TEST_CASE("a saved model of another architecture is refused by name", "[train][fit]") {
  test::scratch_dir dir("wrong");
  train::saved_model m;
  m.model_name = "fmnist-cnn";
  m.layout.entries = {{"0.weight", {2}, 0, 2}};
  m.layout.total = 2;
  m.params = {1, 2};
  const auto path = (dir.path / "m.trpm").string();
  train::save_model(path, m);
  REQUIRE_THROWS_WITH(train::evaluate_saved(test::reference_model(), path, data::fashion_mnist::default_dir, 1, 10, {}),
                      Catch::Contains(path) && Catch::Contains("0.weight"));
}
