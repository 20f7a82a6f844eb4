#include "train/gradient_engine.hpp"

#include <cmath>

#include "config/model_spec.hpp"
#include "data/dataset.hpp"

#include "train_test_util.hpp"

using namespace troupe;

TEST_CASE("splitting a batch across replicas gives the batch-mean gradient", "[train][engine]") {
  const auto spec = config::load_model_spec(test::reference_model());
  const auto ds = data::load_fashion_mnist(data::fashion_mnist::default_dir, true, {}, 64);
  const auto threads = GENERATE(2, 3);
  train::gradient_engine one(spec, 5, 1), many(spec, 5, static_cast<std::size_t>(threads));
  const auto params = one.initial_parameters();
  REQUIRE(params == many.initial_parameters());
  std::vector<float> g1(params.size()), g2(params.size());
  const auto s1 = one.compute(params.data(), ds.images.data(), ds.labels.data(), 50, g1.data());
  const auto s2 = many.compute(params.data(), ds.images.data(), ds.labels.data(), 50, g2.data());
  REQUIRE(s1.n == 50);
  REQUIRE(s2.n == 50);
  REQUIRE(s1.correct1 == s2.correct1);
  REQUIRE(s1.loss_sum == Approx(s2.loss_sum).epsilon(1e-5));
  double max_diff = 0, max_abs = 0;
  for (std::size_t i = 0; i < g1.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::abs(g1[i] - g2[i])));
    max_abs = std::max(max_abs, static_cast<double>(std::abs(g1[i])));
  }
  REQUIRE(max_abs > 0);
  REQUIRE(max_diff <= 1e-5 * max_abs + 1e-7);
}

TEST_CASE("the same seed and thread count give bitwise the same gradient", "[train][engine]") {
  const auto spec = config::load_model_spec(test::reference_model());
  const auto ds = data::load_fashion_mnist(data::fashion_mnist::default_dir, false, {}, 32);
  train::gradient_engine a(spec, 11, 2), b(spec, 11, 2);
  const auto params = a.initial_parameters();
  std::vector<float> ga(params.size()), gb(params.size());
  a.compute(params.data(), ds.images.data(), ds.labels.data(), 32, ga.data());
  b.compute(params.data(), ds.images.data(), ds.labels.data(), 32, gb.data());
  REQUIRE(ga == gb);
  train::gradient_engine c(spec, 12, 2);
  REQUIRE(c.initial_parameters() != params);
}

TEST_CASE("evaluation counts every sample once whatever the chunking", "[train][engine]") {
  const auto spec = config::load_model_spec(test::reference_model());
  const auto ds = data::load_fashion_mnist(data::fashion_mnist::default_dir, false, {}, 101);
  train::gradient_engine e(spec, 1, 2);
  const auto params = e.initial_parameters();
  const auto whole = e.evaluate(params.data(), ds.images.data(), ds.labels.data(), ds.n, 500);
  const auto chunked = e.evaluate(params.data(), ds.images.data(), ds.labels.data(), ds.n, 7);
  REQUIRE(whole.n == 101);
  REQUIRE(chunked.n == 101);
  REQUIRE(whole.correct1 == chunked.correct1);
  REQUIRE(whole.correct5 == chunked.correct5);
  REQUIRE(whole.correct5 >= whole.correct1);
  REQUIRE(whole.loss_sum == Approx(chunked.loss_sum).epsilon(1e-5));
}
