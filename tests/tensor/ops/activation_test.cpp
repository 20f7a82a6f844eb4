#include "tensor/ops/activation.hpp"

#include "../test_util.hpp"

using namespace troupe;
using namespace troupe::tensor;

TEST_CASE("activations match their definitions", "[tensor][activation]") {
  var x(array{-2.f, -0.5f, 0.f, 0.5f, 3.f});
  test::require_equal(relu(x).value(), array{0.f, 0.f, 0.f, 0.5f, 3.f});
  const array s = sigmoid(x).value();
  const array t = tanh(x).value();
  for (std::size_t i = 0; i < 5; ++i) {
    const double v = x.value()(i);
    REQUIRE(s(i) == Approx(1.0 / (1.0 + std::exp(-v))).epsilon(1e-6));
    REQUIRE(t(i) == Approx(std::tanh(v)).epsilon(1e-6));
  }
  SECTION("sigmoid does not overflow for large inputs") {
    const array big = sigmoid(var(array{-100.f, 100.f})).value();
    REQUIRE(big(0) == Approx(0.0).margin(1e-30));
    REQUIRE(big(1) == 1.0f);
  }
}

TEST_CASE("activations pass the gradient check", "[tensor][activation][gradcheck]") {
  // Keep relu inputs away from the kink at 0 (|x| > eps).
  array xv = test::random_array({4, 5}, 11);
  for (auto& v : xv)
    v = v >= 0 ? v + 0.05f : v - 0.05f;
  var x(xv, true);
  test::require_gradcheck([](const std::vector<var>& v) { return relu(v[0]); }, {x});
  test::require_gradcheck([](const std::vector<var>& v) { return sigmoid(v[0]); }, {x});
  test::require_gradcheck([](const std::vector<var>& v) { return tanh(v[0]); }, {x});
}
