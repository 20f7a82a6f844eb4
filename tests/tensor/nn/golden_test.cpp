// A whole small CNN against values computed independently by PyTorch 1.13 in float64
// (tests/tensor/golden/make_golden.py regenerates them; the test never needs PyTorch).

#include <cmath>

#include "tensor/nn/layers.hpp"
#include "tensor/nn/sequential.hpp"
#include "tensor/ops/loss.hpp"

#include "../test_util.hpp"

using namespace troupe;
using namespace troupe::tensor;

namespace {

array fill(const shape_t& shape, double phase) {
  array a = zeros(shape);
  for (std::size_t i = 0; i < a.size(); ++i)
    a.data()[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + phase));
  return a;
}

struct golden_grad {
  const char* name;
  std::vector<double> first;
  double sum, abs_sum;
};

} // namespace

TEST_CASE("a small CNN matches PyTorch's loss, logits and gradients", "[tensor][nn][golden]") {
  const auto algo = GENERATE(conv_algo::im2col_gemm, conv_algo::naive, conv_algo::dnnl);
  if (!conv_algo_available(algo))
    return;                                  // oneDNN, in a build without it
  const bool fusion = GENERATE(true, false); // relu+pool fused in one pass, or layer by layer
  rng gen(0);
  nn::sequential model;
  model.set_fusion(fusion);
  auto conv = std::make_unique<nn::conv2d>(2, 3, 3, 1, 1, nn::init_kind::kaiming_uniform, gen);
  conv->set_algo(algo);
  model.add(std::move(conv));
  model.add(std::make_unique<nn::activation>(nn::activation_kind::relu));
  model.add(std::make_unique<nn::max_pool2d>(2, 2));
  model.add(std::make_unique<nn::flatten>());
  model.add(std::make_unique<nn::dense>(27, 4, nn::init_kind::glorot_uniform, gen));
  auto params = model.parameters();
  REQUIRE(params.size() == 4);
  REQUIRE(params[0].name == "0.weight");
  REQUIRE(params[3].name == "4.bias");
  const double phases[] = {0.2, 0.3, 0.4, 0.5};
  for (std::size_t i = 0; i < 4; ++i)
    params[i].param.value() = fill(params[i].param.shape(), phases[i]);

  var logits = model.forward(var(fill({2, 2, 7, 7}, 0.1)));
  const double expected_logits[] = {8.32232675, -3.17012182, -0.252068343, 6.9567824,
                                    9.17605213, -4.84069728, 1.71570699,   5.30390458};
  for (std::size_t i = 0; i < 8; ++i)
    REQUIRE(logits.value().data()[i] == Approx(expected_logits[i]).epsilon(1e-5));
  var loss = softmax_cross_entropy(logits, std::vector<std::int32_t>{1, 3});
  REQUIRE(loss.value()() == Approx(7.806623593).epsilon(1e-5));
  loss.backward();

  const std::vector<golden_grad> expected{
      {"0.weight",
       {-0.891117436, -1.68406385, -1.42366463, 0.591305576, 2.64040154, 3.54252482},
       3.466476757,
       76.9475317},
      {"0.bias", {5.42962234, -4.3135122, 3.04473631}, 4.160846444, 12.78787084},
      {"4.weight", {1.49625928, 1.71792573, 1.21003734, 1.06074352, 1.1941925, 1.06460366}, 0.0, 89.30671112},
      {"4.bias", {0.887795518, -0.499995535, 0.000356928005, -0.388156911}, 0.0, 1.776304892},
  };
  for (std::size_t p = 0; p < 4; ++p) {
    INFO(expected[p].name);
    const array& g = params[p].param.grad();
    double sum = 0, abs_sum = 0;
    for (float v : g) {
      sum += v;
      abs_sum += std::abs(v);
    }
    for (std::size_t i = 0; i < expected[p].first.size(); ++i)
      REQUIRE(g.data()[i] == Approx(expected[p].first[i]).epsilon(1e-4).margin(1e-5));
    REQUIRE(sum == Approx(expected[p].sum).margin(1e-4 * expected[p].abs_sum));
    REQUIRE(abs_sum == Approx(expected[p].abs_sum).epsilon(1e-4));
  }
}
