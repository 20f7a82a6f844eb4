#include "train/gradient_engine.hpp"

#include <cmath>

#include "config/model_spec.hpp"
#include "data/dataset.hpp"
#include "tensor/nn/flat_params.hpp"
#include "tensor/ops/loss.hpp"
#include "train/model_factory.hpp"

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

namespace {

/// A small model with both kinds of batch norm (their running statistics are the layout's buffers).
config::model_spec bn_model() {
  return config::parse_model_spec(R"(name: bn-small
input: [1, 28, 28]
layers:
  - conv2d: {out_channels: 4, kernel: 3}
  - batchnorm2d
  - relu
  - maxpool2d: {kernel: 2}
  - flatten
  - dense: {units: 16}
  - batchnorm1d: {momentum: 0.2}
  - relu
  - dense: {units: 10}
loss: softmax_cross_entropy
)",
                                  "bn-small.yaml");
}

/// The initial parameters with running statistics that are not the defaults (mean 0, var 1).
std::vector<float> with_running_stats(const nn::param_layout& layout, std::vector<float> params) {
  for (const auto& e : layout.entries)
    if (e.buffer && e.name.find("num_batches_tracked") == std::string::npos)
      for (std::size_t i = 0; i < e.size; ++i)
        params[e.offset + i] = 0.3f + 0.01f * static_cast<float>(i);
  return params;
}

} // namespace

TEST_CASE("a batch-norm batch on two replicas is the sample-weighted mean of its halves, running statistics included",
          "[train][engine][batch_norm]") {
  // What two bsp trainers with half batches each compute, in one process: each half normalizes
  // with its own statistics; gradient and running-statistics update are weighted by samples.
  const auto spec = bn_model();
  const auto ds = data::load_fashion_mnist(data::fashion_mnist::default_dir, true, {}, 41);
  train::gradient_engine one(spec, 5, 1), two(spec, 5, 2);
  const auto& layout = one.layout();
  REQUIRE(layout.params < layout.total); // the buffers travel in the flat vector, after the parameters
  const auto params = with_running_stats(layout, one.initial_parameters());
  const std::size_t image = 28 * 28, n_a = 20, n_b = 21; // the two-thread engine's slices of 41
  std::vector<float> g_a(layout.total), g_b(layout.total), g(layout.total);
  one.compute(params.data(), ds.images.data(), ds.labels.data(), n_a, g_a.data());
  one.compute(params.data(), ds.images.data() + n_a * image, ds.labels.data() + n_a, n_b, g_b.data());
  two.compute(params.data(), ds.images.data(), ds.labels.data(), n_a + n_b, g.data());
  double max_diff = 0, max_abs = 0;
  for (std::size_t i = 0; i < layout.total; ++i) {
    const double want = (n_a * static_cast<double>(g_a[i]) + n_b * static_cast<double>(g_b[i])) / (n_a + n_b);
    max_diff = std::max(max_diff, std::abs(g[i] - want));
    max_abs = std::max(max_abs, std::abs(want));
  }
  INFO("max |difference| " << max_diff << " of max |value| " << max_abs);
  REQUIRE(max_diff <= 1e-6 * max_abs);

  // The half batch's buffer update is exactly what PyTorch's training forward does to the
  // buffers it was loaded with (new value − value read), and the parameters' entries are gradients.
  const nn::module_ptr model = train::build_model(spec, 5);
  nn::scatter_values(*model, params.data());
  tensor::shape_t shape{n_a, 1, 28, 28};
  tensor::array x = tensor::array::from_shape(shape);
  std::copy_n(ds.images.data(), x.size(), x.data());
  model->train(true);
  model->forward(tensor::var(std::move(x)));
  std::vector<float> after;
  nn::gather_values(*model, after);
  bool moved = false;
  for (const auto& e : layout.entries) {
    for (std::size_t i = e.offset; i < e.offset + e.size; ++i) {
      if (!e.buffer) {
        REQUIRE(after[i] == params[i]); // a forward changes no parameter
        continue;
      }
      REQUIRE(g_a[i] == after[i] - params[i]);
      moved = moved || g_a[i] != 0;
    }
    if (e.name.find("num_batches_tracked") != std::string::npos)
      REQUIRE(g_a[e.offset] == 1.0f); // one batch counted
  }
  REQUIRE(moved);
}

TEST_CASE("evaluation normalizes with the running statistics it is given", "[train][engine][batch_norm]") {
  const auto spec = bn_model();
  const auto ds = data::load_fashion_mnist(data::fashion_mnist::default_dir, false, {}, 30);
  train::gradient_engine e(spec, 3, 2);
  const auto initial = e.initial_parameters();
  const auto params = with_running_stats(e.layout(), initial);
  const auto got = e.evaluate(params.data(), ds.images.data(), ds.labels.data(), ds.n);
  REQUIRE(got.loss_sum != e.evaluate(initial.data(), ds.images.data(), ds.labels.data(), ds.n).loss_sum);
  // The same model in evaluation mode, loaded by hand.
  const nn::module_ptr model = train::build_model(spec, 3);
  nn::scatter_values(*model, params.data());
  model->eval();
  tensor::array x = tensor::array::from_shape({ds.n, 1, 28, 28});
  std::copy_n(ds.images.data(), x.size(), x.data());
  tensor::no_grad_guard no_grad;
  const auto loss = tensor::softmax_cross_entropy(model->forward(tensor::var(std::move(x))), ds.labels);
  REQUIRE(got.loss_sum / static_cast<double>(ds.n) == Approx(loss.value()()).epsilon(1e-5));
}

TEST_CASE("label smoothing changes the training loss and gradient, not the evaluation", "[train][engine]") {
  auto spec = config::load_model_spec(test::reference_model());
  const auto ds = data::load_fashion_mnist(data::fashion_mnist::default_dir, true, {}, 32);
  train::gradient_engine plain(spec, 5, 1);
  spec.label_smoothing = 0.1f;
  train::gradient_engine smooth(spec, 5, 1);
  const auto params = plain.initial_parameters();
  std::vector<float> g_plain(params.size()), g_smooth(params.size());
  const auto s_plain = plain.compute(params.data(), ds.images.data(), ds.labels.data(), 32, g_plain.data());
  const auto s_smooth = smooth.compute(params.data(), ds.images.data(), ds.labels.data(), 32, g_smooth.data());
  CHECK(s_smooth.correct1 == s_plain.correct1);
  CHECK(s_smooth.loss_sum != Approx(s_plain.loss_sum).epsilon(1e-4));
  CHECK(g_smooth != g_plain);
  // Evaluation reports the plain loss either way.
  const auto e_plain = plain.evaluate(params.data(), ds.images.data(), ds.labels.data(), 32);
  const auto e_smooth = smooth.evaluate(params.data(), ds.images.data(), ds.labels.data(), 32);
  CHECK(e_smooth.loss_sum == e_plain.loss_sum);
  CHECK(e_plain.loss_sum == Approx(s_plain.loss_sum).epsilon(1e-6));
}

TEST_CASE("gradient pieces are reported last layers first, each once, final, and the gradient is unchanged",
          "[train][engine][overlap]") {
  // What a trainer with sharded aggregators sends during backward (docs/sharding.md, overlap).
  const bool batch_norm = GENERATE(false, true);
  const auto threads = GENERATE(1, 2);
  const auto spec = batch_norm ? bn_model() : config::load_model_spec(test::reference_model());
  const auto ds = data::load_fashion_mnist(data::fashion_mnist::default_dir, true, {}, 40);
  train::gradient_engine plain(spec, 7, static_cast<std::size_t>(threads));
  train::gradient_engine early(spec, 7, static_cast<std::size_t>(threads));
  const auto& layout = plain.layout();
  const auto params = batch_norm ? with_running_stats(layout, plain.initial_parameters()) : plain.initial_parameters();
  std::vector<float> want(layout.total), got(layout.total, -1.0f);
  const auto s_want = plain.compute(params.data(), ds.images.data(), ds.labels.data(), 40, want.data());

  // Cuts inside tensors too, as the byte-balanced shard ranges make them.
  train::gradient_pieces pieces;
  for (std::size_t k = 0; k < 4; ++k)
    pieces.begins.push_back(layout.total * k / 4);
  std::vector<std::size_t> order;
  std::vector<std::vector<float>> seen(4);
  pieces.ready = [&](std::size_t piece, const train::batch_stats& sums) {
    order.push_back(piece);
    CHECK(sums.n == 40);
    CHECK(sums.loss_sum == s_want.loss_sum);
    CHECK(sums.correct1 == s_want.correct1);
    const std::size_t lo = pieces.begins[piece], hi = piece + 1 < 4 ? pieces.begins[piece + 1] : layout.total;
    seen[piece].assign(got.begin() + static_cast<std::ptrdiff_t>(lo), got.begin() + static_cast<std::ptrdiff_t>(hi));
  };
  const auto s_got = early.compute(params.data(), ds.images.data(), ds.labels.data(), 40, got.data(), pieces);
  REQUIRE(s_got.loss_sum == s_want.loss_sum);
  REQUIRE(order == std::vector<std::size_t>{3, 2, 1, 0});
  REQUIRE(got == want); // bit for bit: the same sums in the same order
  for (std::size_t piece = 0; piece < 4; ++piece) {
    const std::size_t lo = pieces.begins[piece];
    INFO("piece " << piece);
    // What the callback saw is what stays: nothing in its range changes after the report.
    REQUIRE(seen[piece] == std::vector<float>(want.begin() + static_cast<std::ptrdiff_t>(lo),
                                              want.begin() + static_cast<std::ptrdiff_t>(lo + seen[piece].size())));
  }

  pieces.begins = {0, layout.total};
  REQUIRE_THROWS_WITH(early.compute(params.data(), ds.images.data(), ds.labels.data(), 40, got.data(), pieces),
                      Catch::Contains("strictly ascending offsets below"));
}
