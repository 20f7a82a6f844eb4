#include "tensor/ops/activation.hpp"

#include "../golden/golden_util.hpp"
#include "../golden/ops_golden.hpp"

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

TEST_CASE("leaky_relu and gelu match PyTorch, values and gradients", "[tensor][activation][golden]") {
  var x(test::golden::fill({4, 5}, 0.3, 3.0), true);
  SECTION("leaky_relu with slope 0.1") {
    var y = leaky_relu(x, 0.1f);
    y.backward(test::golden::fill(y.shape(), 0.9));
    test::golden::require_golden(y.value(), test::golden::leaky_relu_y);
    test::golden::require_golden(x.grad(), test::golden::leaky_relu_dx);
  }
  SECTION("gelu, the exact erf form") {
    var y = gelu(x);
    y.backward(test::golden::fill(y.shape(), 0.9));
    test::golden::require_golden(y.value(), test::golden::gelu_y);
    test::golden::require_golden(x.grad(), test::golden::gelu_dx);
  }
}

TEST_CASE("leaky_relu differentiates from the input, also with a negative slope", "[tensor][activation]") {
  var x(array{-2.f, 3.f}, true);
  var y = leaky_relu(x, -0.5f); // -2 -> 1 (positive output from a negative input)
  test::require_equal(y.value(), array{1.f, 3.f});
  y.backward(array{1.f, 1.f});
  test::require_equal(x.grad(), array{-0.5f, 1.f});
  REQUIRE(leaky_relu(var(array{-100.f})).value()(0) == Approx(-1.0f)); // PyTorch's default slope 0.01
}

TEST_CASE("leaky_relu and gelu pass the gradient check", "[tensor][activation][gradcheck]") {
  array xv = test::random_array({4, 5}, 12, -3.f, 3.f);
  for (auto& v : xv) // away from leaky_relu's kink at 0
    v = v >= 0 ? v + 0.05f : v - 0.05f;
  var x(xv, true);
  test::require_gradcheck([](const std::vector<var>& v) { return leaky_relu(v[0], 0.2f); }, {x});
  test::require_gradcheck([](const std::vector<var>& v) { return gelu(v[0]); }, {x});
}
