#include "tensor/ops/shape.hpp"

#include "../test_util.hpp"

using namespace troupe;
using namespace troupe::tensor;

TEST_CASE("flatten and reshape keep the element order", "[tensor][shape]") {
  var x(test::random_array({2, 3, 2, 2}, 1), true);
  var f = flatten(x);
  REQUIRE(f.shape() == shape_t{2, 12});
  REQUIRE(std::equal(f.value().begin(), f.value().end(), x.value().begin()));
  test::require_gradcheck([](const std::vector<var>& v) { return reshape(v[0], {4, 6}); }, {x});
  REQUIRE_THROWS_WITH(reshape(x, {5, 5}), Catch::Contains("cannot reshape [2, 3, 2, 2] (24 elements) to [5, 5]"));
}

TEST_CASE("dropout is seeded, inverted and the identity outside training", "[tensor][dropout]") {
  var x(array::from_shape({1000}), true);
  std::fill(x.value().begin(), x.value().end(), 1.0f);
  rng g1(5), g2(5);
  var a = dropout(x, 0.25f, g1, true);
  var b = dropout(x, 0.25f, g2, true);
  test::require_equal(a.value(), b.value()); // same seed, same mask
  std::size_t zeros_seen = 0;
  for (float v : a.value()) {
    REQUIRE((v == 0.0f || v == Approx(1.0f / 0.75f)));
    zeros_seen += v == 0.0f;
  }
  REQUIRE(zeros_seen > 200);
  REQUIRE(zeros_seen < 300);
  a.backward(array(x.value()));
  for (std::size_t i = 0; i < 1000; ++i)
    REQUIRE(x.grad()(i) == a.value()(i)); // gradient uses the same mask and scale
  rng g3(5);
  test::require_equal(dropout(x, 0.25f, g3, false).value(), x.value());
  REQUIRE_THROWS_WITH(dropout(x, 1.0f, g3, true), Catch::Contains("[0, 1)"));
}
