#include "tensor/ops/elementwise.hpp"

#include <string>
#include <vector>

#include "../test_util.hpp"

using namespace troupe;
using namespace troupe::tensor;

TEST_CASE("add, sub and mul broadcast a bias over rows", "[tensor][elementwise]") {
  var a(array{{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}}, true);
  var b(array{10.f, 20.f, 30.f}, true);
  test::require_equal(add(a, b).value(), array{{11.f, 22.f, 33.f}, {14.f, 25.f, 36.f}});
  test::require_equal(sub(a, b).value(), array{{-9.f, -18.f, -27.f}, {-6.f, -15.f, -24.f}});
  test::require_equal(mul(a, b).value(), array{{10.f, 40.f, 90.f}, {40.f, 100.f, 180.f}});

  SECTION("the bias gradient sums over the broadcast rows") {
    var y = sum(mul(a, b));
    y.backward();
    test::require_equal(b.grad(), array{5.f, 7.f, 9.f});
    test::require_equal(a.grad(), array{{10.f, 20.f, 30.f}, {10.f, 20.f, 30.f}});
  }
}

TEST_CASE("incompatible shapes are a clear error", "[tensor][elementwise]") {
  var a(zeros({2, 3})), b(zeros({2}));
  REQUIRE_THROWS_WITH(add(a, b), Catch::Contains("[2, 3] and [2] cannot be broadcast"));
}

TEST_CASE("element-wise ops pass the gradient check", "[tensor][elementwise][gradcheck]") {
  const auto a = test::random_var({3, 4}, 1);
  const auto b = test::random_var({4}, 2);
  const auto c = test::random_var({3, 1}, 3);
  test::require_gradcheck([](const std::vector<var>& v) { return add(v[0], v[1]); }, {a, b});
  test::require_gradcheck([](const std::vector<var>& v) { return sub(v[0], v[1]); }, {a, c});
  test::require_gradcheck([](const std::vector<var>& v) { return mul(v[0], v[1]); }, {a, b});
  test::require_gradcheck([](const std::vector<var>& v) { return mean(mul(v[0], v[1])); }, {a, c});
  test::require_gradcheck([](const std::vector<var>& v) { return scale(v[0], -2.5f); }, {a});
}

TEST_CASE("gradients accumulate across backward passes until zero_grad", "[tensor][autodiff]") {
  var x(array{1.f, 2.f}, true);
  sum(mul(x, x)).backward();
  test::require_equal(x.grad(), array{2.f, 4.f});
  sum(mul(x, x)).backward();
  test::require_equal(x.grad(), array{4.f, 8.f});
  x.zero_grad();
  sum(x).backward();
  test::require_equal(x.grad(), array{1.f, 1.f});
}

TEST_CASE("the graph follows the program's own control flow and is released after backward", "[tensor][autodiff]") {
  var x(array{0.5f}, true);
  var y = x;
  for (int i = 0; i < 3; ++i) // y = x^3 built by a loop with a branch
    y = (i % 2 == 0) ? mul(y, x) : add(y, scale(y, 0.0f));
  REQUIRE(y.value()(0) == Approx(0.125f));
  y.backward();
  REQUIRE(x.grad()(0) == Approx(3 * 0.25f)); // d(x^3)/dx = 3x^2 (the loop ran mul twice)
  REQUIRE(y.get()->inputs.empty());
  REQUIRE_FALSE(static_cast<bool>(y.get()->backward));
}

TEST_CASE("a backward pass reports each leaf once, as soon as every node reading it has run", "[tensor][autodiff]") {
  var x(array{1.f, 2.f}); // an input: no gradient, never reported
  var w1(array{3.f, 4.f}, true), w2(array{5.f, 6.f}, true);
  var g = mul(mul(x, w1), w1); // w1 read twice
  var loss = sum(mul(w2, g));  // w2 listed before the chain that leads to w1
  std::vector<std::string> reported;
  bool w1_had_grad_when_w2_reported = true;
  loss.backward_reporting_leaves([&](const node& leaf) {
    if (&leaf == w2.get().get()) {
      reported.push_back("w2");
      w1_had_grad_when_w2_reported = w1.grad().size() == w1.size(); // none yet: a default array
      test::require_equal(leaf.grad, array{9.f, 32.f});             // x·w1², final
    } else if (&leaf == w1.get().get()) {
      reported.push_back("w1");
      test::require_equal(leaf.grad, array{30.f, 96.f}); // 2·w2·x·w1, both readers in
    } else {
      reported.push_back("other");
    }
  });
  // A plain reverse walk would reach w2 last (it is the first input of the last node); the count
  // of readers reports it right after that node, before the chain to w1 has run.
  REQUIRE(reported == std::vector<std::string>{"w2", "w1"});
  REQUIRE_FALSE(w1_had_grad_when_w2_reported);
  test::require_equal(w1.grad(), array{30.f, 96.f});
}

TEST_CASE("no_grad_guard stops recording", "[tensor][autodiff]") {
  var x(array{1.f}, true);
  {
    no_grad_guard guard;
    var y = mul(x, x);
    REQUIRE_FALSE(y.requires_grad());
  }
  REQUIRE(mul(x, x).requires_grad());
}
