#include <catch2/catch.hpp>

#include "config/model_spec.hpp"
#include "tensor/nn/batch_norm.hpp"
#include "tensor/nn/graph.hpp"
#include "tensor/nn/layers.hpp"
#include "tensor/nn/sequential.hpp"
#include "tensor/ops/activation.hpp"
#include "tensor/ops/avg_pool.hpp"
#include "tensor/ops/batch_norm.hpp"
#include "tensor/ops/concat.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/linear.hpp"
#include "tensor/ops/loss.hpp"
#include "train/model_factory.hpp"

#include "train_test_util.hpp"

using namespace troupe;
using tensor::array;
using tensor::var;

namespace {

array sine(const tensor::shape_t& shape, double phase) {
  array a = tensor::zeros(shape);
  for (std::size_t i = 0; i < a.size(); ++i)
    a.data()[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + phase));
  return a;
}

void require_equal(const array& a, const array& b) {
  REQUIRE(tensor::shape_of(a) == tensor::shape_of(b));
  REQUIRE(std::equal(a.begin(), a.end(), b.begin()));
}

} // namespace

TEST_CASE("a plain list of layers still builds the same nn::sequential, weight for weight", "[train][model_factory]") {
  const auto spec = config::load_model_spec(test::reference_model());
  const nn::module_ptr built = train::build_model(spec, 3);
  auto* seq = dynamic_cast<nn::sequential*>(built.get());
  REQUIRE(seq != nullptr);
  // The layers the factory made before graphs existed, in the same order from the same seed.
  rng gen(3);
  nn::sequential by_hand;
  by_hand.add(std::make_unique<nn::conv2d>(1, 32, 3, 1, 0, nn::init_kind::kaiming_uniform, gen));
  by_hand.add(std::make_unique<nn::conv2d>(32, 64, 3, 1, 0, nn::init_kind::kaiming_uniform, gen));
  by_hand.add(std::make_unique<nn::dense>(1600, 128, nn::init_kind::kaiming_uniform, gen));
  by_hand.add(std::make_unique<nn::dense>(128, 10, nn::init_kind::kaiming_uniform, gen));
  const auto a = seq->parameters(), b = by_hand.parameters();
  REQUIRE(a.size() == b.size());
  CHECK(a[0].name == "0.weight");
  CHECK(a[7].name == "9.bias");
  for (std::size_t i = 0; i < a.size(); ++i)
    require_equal(a[i].param.value(), b[i].param.value());
}

TEST_CASE("a model wired by names runs the same forward and backward as its ops composed by hand",
          "[train][model_factory][graph]") {
  const auto spec = config::parse_model_spec(R"(name: m
input: [2, 6, 6]
layers:
  - name: stem
    conv2d: {out_channels: 3, kernel: 3, padding: 1}
  - conv2d: {out_channels: 3, kernel: 3, padding: 1}
  - name: main
    batchnorm2d:
  - name: sum
    add:
    inputs: [main, stem]
  - name: act
    relu:
  - name: cat
    concat:
    inputs: [act, stem]
  - avgpool2d: {kernel: 2}
  - global_avg_pool
  - dense: {units: 4}
)",
                                             "m.yaml");
  const nn::module_ptr model = train::build_model(spec, 11);
  REQUIRE(dynamic_cast<nn::graph*>(model.get()) != nullptr);
  auto p = model->parameters();
  std::vector<std::string> names;
  for (auto& np : p)
    names.push_back(np.name);
  REQUIRE(names == std::vector<std::string>{"stem.weight", "stem.bias", "1.weight", "1.bias", "main.weight",
                                            "main.bias", "8.weight", "8.bias"});
  for (std::size_t i = 0; i < p.size(); ++i) // non-trivial batch-norm affine parameters too
    p[i].param.value() = sine(p[i].param.shape(), 0.1 * static_cast<double>(i + 1));
  REQUIRE(model->buffers().size() == 3);

  const array x = sine({2, 2, 6, 6}, 0.05);
  const std::vector<std::int32_t> labels{1, 3};
  var loss = tensor::softmax_cross_entropy(model->forward(var(x)), labels);
  loss.backward();

  std::vector<var> q;
  for (auto& np : p)
    q.emplace_back(np.param.value(), true);
  array mean = tensor::zeros({3}), variance = tensor::zeros({3}) + 1.0f;
  var stem = tensor::conv2d(var(x), q[0], q[1], 1, 1);
  var main = tensor::batch_norm(tensor::conv2d(stem, q[2], q[3], 1, 1), q[4], q[5], mean, variance, {true});
  var cat = tensor::concat_channels({tensor::relu(tensor::add(main, stem)), stem});
  var logits = tensor::linear(tensor::global_avg_pool2d(tensor::avg_pool2d(cat, 2, 2)), q[6], q[7]);
  var ref = tensor::softmax_cross_entropy(logits, labels);
  ref.backward();

  require_equal(loss.value(), ref.value());
  for (std::size_t i = 0; i < p.size(); ++i) {
    INFO(p[i].name);
    require_equal(p[i].param.grad(), q[i].grad());
  }
  require_equal(model->buffers()[0].buffer.value(), mean);
  require_equal(model->buffers()[1].buffer.value(), variance);
}

TEST_CASE("the shipped resnet_fmnist.yaml builds and runs a forward and backward on a batch of 2",
          "[train][model_factory][graph]") {
  const auto spec = config::load_model_spec(test::source_dir() + "/examples/models/resnet_fmnist.yaml");
  const nn::module_ptr model = train::build_model(spec, 1);
  std::size_t count = 0;
  for (auto& np : model->parameters())
    count += np.param.size();
  CHECK(count == 308'074); // what PyTorch counts for the same architecture
  const auto buffers = model->buffers();
  CHECK(buffers.size() == 3 * 9); // 9 batch norms, 3 buffers each

  var logits = model->forward(var(sine({2, 1, 28, 28}, 0.3)));
  REQUIRE(logits.shape() == tensor::shape_t{2, 10});
  var loss = tensor::softmax_cross_entropy(logits, std::vector<std::int32_t>{4, 7});
  REQUIRE(std::isfinite(loss.value()()));
  loss.backward();
  for (auto& np : model->parameters()) {
    INFO(np.name);
    REQUIRE(np.param.grad().size() == np.param.size());
    double norm = 0;
    for (float g : np.param.grad())
      norm += static_cast<double>(g) * g;
    CHECK(norm > 0.0);
  }
  for (const auto& b : buffers)
    if (b.name.size() > 19 && b.name.compare(b.name.size() - 19, 19, "num_batches_tracked") == 0)
      CHECK(b.buffer.value()() == 1.0f);

  model->eval(); // evaluation: running statistics, nothing updated
  const array before = buffers[0].buffer.value();
  var eval_logits = model->forward(var(sine({2, 1, 28, 28}, 0.3)));
  CHECK(eval_logits.shape() == tensor::shape_t{2, 10});
  require_equal(buffers[0].buffer.value(), before);
}
