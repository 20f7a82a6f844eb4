#include "tensor/ops/linear.hpp"

#include "../test_util.hpp"

using namespace troupe;
using namespace troupe::tensor;

TEST_CASE("matmul and linear compute the usual products", "[tensor][linear]") {
  var a(array{{1.f, 2.f}, {3.f, 4.f}, {5.f, 6.f}});
  var b(array{{1.f, 0.f, -1.f}, {2.f, 1.f, 0.f}});
  test::require_equal(matmul(a, b).value(), array{{5.f, 2.f, -1.f}, {11.f, 4.f, -3.f}, {17.f, 6.f, -5.f}});
  var w(array{{1.f, 1.f}, {0.f, -1.f}}); // [out=2, in=2]
  var bias(array{0.5f, 1.f});
  test::require_equal(linear(a, w, bias).value(), array{{3.5f, -1.f}, {7.5f, -3.f}, {11.5f, -5.f}});
  test::require_equal(linear(a, w, var()).value(), array{{3.f, -2.f}, {7.f, -4.f}, {11.f, -6.f}});
}

TEST_CASE("matmul and linear pass the gradient check", "[tensor][linear][gradcheck]") {
  auto a = test::random_var({3, 4}, 1), b = test::random_var({4, 5}, 2);
  test::require_gradcheck([](const std::vector<var>& v) { return matmul(v[0], v[1]); }, {a, b});
  auto x = test::random_var({6, 4}, 3), w = test::random_var({3, 4}, 4), bias = test::random_var({3}, 5);
  test::require_gradcheck([](const std::vector<var>& v) { return linear(v[0], v[1], v[2]); }, {x, w, bias});
}

TEST_CASE("shape mismatches name both shapes", "[tensor][linear]") {
  var a(zeros({2, 3})), b(zeros({4, 5}));
  REQUIRE_THROWS_WITH(matmul(a, b), Catch::Contains("[2, 3] x [4, 5]"));
  REQUIRE_THROWS_WITH(linear(a, b, var()), Catch::Contains("w [out, in]"));
}
