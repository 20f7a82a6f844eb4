#include "tensor/ops/activation.hpp"
#include "tensor/ops/pool.hpp"

#include "../test_util.hpp"

using namespace troupe;
using namespace troupe::tensor;

TEST_CASE("max_pool2d takes window maxima with floor-mode sizes", "[tensor][pool]") {
  var x(array{{{{1.f, 5.f, 2.f, 0.f, 9.f},
                {3.f, 4.f, 8.f, 1.f, 9.f},
                {0.f, 1.f, 2.f, 3.f, 9.f},
                {7.f, 6.f, 5.f, 4.f, 9.f},
                {9.f, 9.f, 9.f, 9.f, 9.f}}}},
        true);
  var y = max_pool2d(x, 2, 2); // 5x5 -> 2x2: the last row and column are dropped
  test::require_equal(y.value(), array{{{{5.f, 8.f}, {7.f, 5.f}}}});
  y.backward(array{{{{1.f, 2.f}, {3.f, 4.f}}}});
  array expected = zeros({1, 1, 5, 5});
  expected(0, 0, 0, 1) = 1.f; // 5
  expected(0, 0, 1, 2) = 2.f; // 8
  expected(0, 0, 3, 0) = 3.f; // 7
  expected(0, 0, 3, 2) = 4.f; // 5
  test::require_equal(x.grad(), expected);
}

TEST_CASE("max_pool2d routes a tie's gradient to the first maximum only", "[tensor][pool]") {
  var x(array{{{{2.f, 2.f}, {2.f, 2.f}}}}, true);
  var y = max_pool2d(x, 2, 2);
  y.backward(zeros({1, 1, 1, 1}) + 1.0f);
  test::require_equal(x.grad(), array{{{{1.f, 0.f}, {0.f, 0.f}}}});
}

TEST_CASE("max_pool2d with overlapping windows passes the gradient check", "[tensor][pool][gradcheck]") {
  // Distinct values spaced well beyond eps so no window has a near-tie.
  array v = zeros({2, 3, 6, 7});
  rng gen(3);
  for (std::size_t i = 0; i < v.size(); ++i)
    v.data()[i] = static_cast<float>(i) * 0.1f;
  for (std::size_t i = v.size() - 1; i > 0; --i)
    std::swap(v.data()[i], v.data()[gen.below(i + 1)]);
  var x(v, true);
  for (auto [k, s] : {std::pair<std::size_t, std::size_t>{2, 2}, {3, 1}, {3, 2}}) {
    CAPTURE(k, s);
    test::require_gradcheck([k = k, s = s](const std::vector<var>& in) { return max_pool2d(in[0], k, s); }, {x});
  }
}

TEST_CASE("max_pool2d rejects a kernel larger than the input", "[tensor][pool]") {
  REQUIRE_THROWS_WITH(max_pool2d(var(zeros({1, 1, 2, 2})), 3, 1), Catch::Contains("larger than the input 2x2"));
}

TEST_CASE("fused relu+max_pool2d equals relu then max_pool2d, values and gradients", "[tensor][pool][fusion]") {
  struct pool_case {
    std::size_t n, c, h, w, k, s;
  };
  const auto pc = GENERATE(pool_case{2, 3, 6, 6, 2, 2}, pool_case{2, 2, 7, 5, 2, 2}, pool_case{1, 2, 6, 7, 3, 2},
                           pool_case{3, 1, 2, 2, 2, 2});
  CAPTURE(pc.h, pc.w, pc.k, pc.s);
  array v = test::random_array({pc.n, pc.c, pc.h, pc.w}, 31);
  v(0, 0, 0, 0) = v(0, 0, 0, 1) = 0.5f; // a tie inside one window
  v(0, 0, 1, 0) = v(0, 0, 1, 1) = -0.25f;
  var a(v, true), b(v, true);
  var fa = relu_max_pool2d(a, pc.k, pc.s);
  var fb = max_pool2d(relu(b), pc.k, pc.s);
  test::require_equal(fa.value(), fb.value());
  const array seed = test::random_array(fa.shape(), 32);
  fa.backward(seed);
  fb.backward(seed);
  test::require_equal(a.grad(), b.grad());
  SECTION("a second backward accumulates") {
    var again = relu_max_pool2d(a, pc.k, pc.s);
    again.backward(seed);
    test::require_close(a.grad(), b.grad() * 2.0f, 1e-6f);
  }
}

TEST_CASE("fused relu+max_pool2d passes the gradient check", "[tensor][pool][fusion][gradcheck]") {
  array v = zeros({2, 2, 6, 5});
  rng gen(8);
  for (std::size_t i = 0; i < v.size(); ++i)
    v.data()[i] = (static_cast<float>(i) - 30.0f) * 0.1f;
  for (std::size_t i = v.size() - 1; i > 0; --i)
    std::swap(v.data()[i], v.data()[gen.below(i + 1)]);
  var x(v, true);
  test::require_gradcheck([](const std::vector<var>& in) { return relu_max_pool2d(in[0], 2, 2); }, {x});
}
