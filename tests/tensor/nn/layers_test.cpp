#include "tensor/nn/layers.hpp"

#include <cmath>

#include "tensor/nn/flat_params.hpp"
#include "tensor/nn/sequential.hpp"
#include "tensor/ops/loss.hpp"

#include "../test_util.hpp"

using namespace troupe;
using namespace troupe::tensor;

namespace {

nn::sequential small_cnn(std::uint64_t seed, conv_algo algo = conv_algo::im2col_gemm) {
  rng gen(seed);
  nn::sequential m;
  auto c1 = std::make_unique<nn::conv2d>(1, 4, 3, 1, 0, nn::init_kind::kaiming_uniform, gen);
  c1->set_algo(algo);
  m.add(std::move(c1));
  m.add(std::make_unique<nn::activation>(nn::activation_kind::tanh));
  m.add(std::make_unique<nn::max_pool2d>(2, 2));
  auto c2 = std::make_unique<nn::conv2d>(4, 3, 2, 1, 1, nn::init_kind::kaiming_normal, gen);
  c2->set_algo(algo);
  m.add(std::move(c2));
  m.add(std::make_unique<nn::activation>(nn::activation_kind::sigmoid));
  m.add(std::make_unique<nn::flatten>());
  m.add(std::make_unique<nn::dense>(48, 5, nn::init_kind::glorot_uniform, gen));
  return m;
}

} // namespace

TEST_CASE("parameters are enumerable by PyTorch-style names", "[tensor][nn]") {
  auto m = small_cnn(1);
  std::vector<std::string> names;
  for (auto& p : m.parameters())
    names.push_back(p.name);
  REQUIRE(names == std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"});
  const auto layout = nn::layout_of(m);
  REQUIRE(layout.total == 4 * 9 + 4 + 3 * 4 * 4 + 3 + 5 * 48 + 5);
  REQUIRE(layout.entries[2].offset == 40);
  REQUIRE(m.describe().find("(3): Conv2d(4, 3, kernel=2, stride=1, padding=1)") != std::string::npos);
}

TEST_CASE("initialisation is seeded and has the documented scale", "[tensor][nn][init]") {
  rng g1(9), g2(9);
  array a = zeros({256, 400}), b = zeros({256, 400});
  nn::initialize(a, nn::init_kind::kaiming_uniform, 400, 256, g1);
  nn::initialize(b, nn::init_kind::kaiming_uniform, 400, 256, g2);
  test::require_equal(a, b);
  const double bound = std::sqrt(6.0 / 400);
  double sq = 0;
  for (float v : a) {
    REQUIRE(std::abs(v) <= bound);
    sq += static_cast<double>(v) * v;
  }
  REQUIRE(std::sqrt(sq / a.size()) == Approx(bound / std::sqrt(3.0)).epsilon(0.02)); // uniform std = bound/√3
  nn::initialize(a, nn::init_kind::glorot_normal, 400, 256, g1);
  sq = 0;
  for (float v : a)
    sq += static_cast<double>(v) * v;
  REQUIRE(std::sqrt(sq / a.size()) == Approx(std::sqrt(2.0 / 656)).epsilon(0.02));
  REQUIRE_THROWS_WITH(nn::parse_init_kind("he"), Catch::Contains("unknown initialisation 'he'"));
}

TEST_CASE("a whole small CNN passes the gradient check", "[tensor][nn][gradcheck]") {
  for (auto algo : {conv_algo::im2col_gemm, conv_algo::naive}) {
    auto m = small_cnn(3, algo);
    var x = test::random_var({2, 1, 9, 9}, 4, false);
    std::vector<var> inputs;
    for (auto& p : m.parameters())
      inputs.push_back(p.param);
    const std::vector<std::int32_t> labels{1, 4};
    test::require_gradcheck([&](const std::vector<var>&) { return softmax_cross_entropy(m.forward(x), labels); },
                            inputs, {1e-2, 2e-3, 2e-2, 7, 0});
  }
}

TEST_CASE("flat parameters round-trip between replicas", "[tensor][nn]") {
  auto a = small_cnn(1), b = small_cnn(2);
  std::vector<float> fa, fb;
  nn::gather_values(a, fa);
  nn::gather_values(b, fb);
  REQUIRE(fa != fb);
  nn::scatter_values(b, fa.data());
  nn::gather_values(b, fb);
  REQUIRE(fa == fb);
  nn::layout_of(a).require_same(nn::layout_of(b), "replica");
  rng gen(0);
  nn::sequential other;
  other.add(std::make_unique<nn::dense>(3, 2, nn::init_kind::glorot_uniform, gen));
  REQUIRE_THROWS_WITH(nn::layout_of(a).require_same(nn::layout_of(other), "x.trpm"), Catch::Contains("x.trpm"));
}

TEST_CASE("dropout layers are reproducible and inactive in evaluation", "[tensor][nn][dropout]") {
  nn::dropout d1(0.5f, 3), d2(0.5f, 3);
  var x(zeros({64}) + 1.0f);
  test::require_equal(d1.forward(x).value(), d2.forward(x).value());
  d1.train(false);
  test::require_equal(d1.forward(x).value(), x.value());
}

TEST_CASE("pooling and activation layers run their ops and describe themselves", "[tensor][nn]") {
  var x = test::random_var({2, 3, 6, 6}, 71, false);
  nn::avg_pool2d pool(2, 2);
  nn::global_avg_pool gap;
  nn::leaky_relu leaky(0.2f);
  nn::activation gelu(nn::activation_kind::gelu);
  CHECK(pool.forward(x).shape() == shape_t{2, 3, 3, 3});
  CHECK(gap.forward(x).shape() == shape_t{2, 3});
  CHECK(leaky.forward(var(array{-1.f, 2.f})).value()(0) == Approx(-0.2f));
  CHECK(gelu.forward(var(array{0.f})).value()(0) == 0.0f);
  CHECK(pool.describe() == "AvgPool2d(kernel=2, stride=2)");
  CHECK(gap.describe() == "GlobalAvgPool()");
  CHECK(leaky.describe() == "LeakyReLU(negative_slope=0.2)");
  CHECK(gelu.describe() == "GELU()");
}

TEST_CASE("a conv2d layer with a rectangular kernel and per-dimension stride and padding", "[tensor][nn]") {
  rng gen(1);
  nn::conv2d conv(2, 4, 3, 1, tensor::conv2d_params{2, 1, 1, 0}, nn::init_kind::kaiming_uniform, gen);
  CHECK(conv.parameters()[0].param.shape() == shape_t{4, 2, 3, 1});
  CHECK(conv.forward(test::random_var({1, 2, 7, 5}, 72, false)).shape() == shape_t{1, 4, 4, 5});
  CHECK(conv.describe() == "Conv2d(2, 4, kernel=(3, 1), stride=(2, 1), padding=(1, 0))");
}
