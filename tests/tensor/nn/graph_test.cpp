#include "tensor/nn/graph.hpp"

#include "tensor/nn/batch_norm.hpp"
#include "tensor/nn/layers.hpp"
#include "tensor/ops/activation.hpp"
#include "tensor/ops/batch_norm.hpp"
#include "tensor/ops/concat.hpp"
#include "tensor/ops/conv2d.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/loss.hpp"

#include "../test_util.hpp"

using namespace troupe;
using namespace troupe::tensor;

TEST_CASE("a residual graph equals the same ops composed by hand, values and gradients", "[tensor][nn][graph]") {
  rng gen(5);
  nn::graph g;
  const auto stem =
      g.add("stem", std::make_unique<nn::conv2d>(2, 3, 3, 1, 1, nn::init_kind::kaiming_uniform, gen), nn::graph::input);
  const auto c1 = g.add("c1", std::make_unique<nn::conv2d>(3, 3, 3, 1, 1, nn::init_kind::kaiming_uniform, gen), stem);
  const auto bn = g.add("bn", std::make_unique<nn::batch_norm2d>(3), c1);
  const auto sum = g.join("sum", nn::join_kind::add, {bn, stem});
  const auto act = g.add("act", std::make_unique<nn::activation>(nn::activation_kind::gelu), sum);
  g.join("cat", nn::join_kind::concat, {act, stem});
  std::vector<std::string> names;
  for (auto& p : g.parameters())
    names.push_back(p.name);
  REQUIRE(names ==
          std::vector<std::string>{"stem.weight", "stem.bias", "c1.weight", "c1.bias", "bn.weight", "bn.bias"});
  REQUIRE(g.buffers().at(0).name == "bn.running_mean");
  REQUIRE(g.describe().find("(sum): Add() <- bn, stem") != std::string::npos);

  const array xv = test::random_array({2, 2, 5, 5}, 61);
  var y = g.forward(var(xv));
  REQUIRE(y.shape() == shape_t{2, 6, 5, 5});
  const array seed = test::random_array(y.shape(), 62);
  y.backward(seed);

  // By hand, on copies of the same parameters.
  auto p = g.parameters();
  std::vector<var> q;
  for (auto& np : p)
    q.emplace_back(np.param.value(), true);
  array mean = zeros({3}), variance = zeros({3}) + 1.0f;
  var s = conv2d(var(xv), q[0], q[1], 1, 1);
  var h = batch_norm(conv2d(s, q[2], q[3], 1, 1), q[4], q[5], mean, variance, {true});
  var ref = concat_channels({gelu(add(h, s)), s});
  test::require_equal(y.value(), ref.value());
  ref.backward(seed);
  for (std::size_t i = 0; i < p.size(); ++i) {
    INFO(p[i].name);
    test::require_equal(p[i].param.grad(), q[i].grad());
  }
  test::require_equal(g.buffers()[0].buffer.value(), mean);
}

TEST_CASE("graph train/eval reaches every node, and wiring mistakes are refused", "[tensor][nn][graph]") {
  nn::graph g;
  const auto a = g.add("a", std::make_unique<nn::batch_norm1d>(4), nn::graph::input);
  g.add("b", std::make_unique<nn::flatten>(), a);
  g.eval();
  REQUIRE_FALSE(g.at(a)->training());
  g.train(true);
  REQUIRE(g.at(a)->training());
  REQUIRE_THROWS_WITH(g.add("a", std::make_unique<nn::flatten>(), a), Catch::Contains("already has a node named 'a'"));
  REQUIRE_THROWS_WITH(g.add("c", std::make_unique<nn::flatten>(), 7), Catch::Contains("reads node 7"));
  REQUIRE_THROWS_WITH(g.join("j", nn::join_kind::add, {a}), Catch::Contains("at least two inputs"));
}
