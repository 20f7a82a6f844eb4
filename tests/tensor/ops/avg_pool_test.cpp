#include "tensor/ops/avg_pool.hpp"

#include "../golden/golden_util.hpp"
#include "../golden/ops_golden.hpp"

using namespace troupe;
using namespace troupe::tensor;
namespace golden = troupe::test::golden;

TEST_CASE("avg_pool2d takes window means with floor-mode sizes", "[tensor][avg_pool]") {
  var x(array{{{{1.f, 5.f, 2.f, 0.f, 7.f}, {3.f, 4.f, 8.f, 1.f, 7.f}, {9.f, 9.f, 9.f, 9.f, 9.f}}}}, true);
  var y = avg_pool2d(x, 2, 2); // 3x5 -> 1x2: the last row and column are dropped
  test::require_equal(y.value(), array{{{{3.25f, 2.75f}}}});
  y.backward(array{{{{4.f, 8.f}}}});
  test::require_equal(x.grad(),
                      array{{{{1.f, 1.f, 2.f, 2.f, 0.f}, {1.f, 1.f, 2.f, 2.f, 0.f}, {0.f, 0.f, 0.f, 0.f, 0.f}}}});
}

TEST_CASE("avg_pool2d and global average pooling match PyTorch", "[tensor][avg_pool][golden]") {
  SECTION("kernel 3, stride 2 (overlapping windows)") {
    var x(golden::fill({2, 3, 7, 6}, 0.1), true);
    var y = avg_pool2d(x, 3, 2);
    REQUIRE(y.shape() == shape_t{2, 3, 3, 2});
    y.backward(golden::fill(y.shape(), 0.9));
    golden::require_golden(y.value(), golden::avgpool_k3s2_y);
    golden::require_golden(x.grad(), golden::avgpool_k3s2_dx);
  }
  SECTION("kernel 2, stride 2 (an odd height drops its last row)") {
    var x(golden::fill({2, 3, 7, 6}, 0.1), true);
    var y = avg_pool2d(x, 2, 2);
    REQUIRE(y.shape() == shape_t{2, 3, 3, 3});
    y.backward(golden::fill(y.shape(), 0.9));
    golden::require_golden(y.value(), golden::avgpool_k2s2_y);
    golden::require_golden(x.grad(), golden::avgpool_k2s2_dx);
  }
  SECTION("global: AdaptiveAvgPool2d(1) then flatten") {
    var x(golden::fill({2, 3, 4, 5}, 0.2), true);
    var y = global_avg_pool2d(x);
    REQUIRE(y.shape() == shape_t{2, 3});
    y.backward(golden::fill(y.shape(), 0.9));
    golden::require_golden(y.value(), golden::global_avgpool_y);
    golden::require_golden(x.grad(), golden::global_avgpool_dx);
  }
}

TEST_CASE("average pooling passes the gradient check", "[tensor][avg_pool][gradcheck]") {
  var x = test::random_var({2, 2, 6, 7}, 41);
  for (auto [k, s] : {std::pair<std::size_t, std::size_t>{2, 2}, {3, 1}, {3, 2}}) {
    CAPTURE(k, s);
    test::require_gradcheck([k = k, s = s](const std::vector<var>& in) { return avg_pool2d(in[0], k, s); }, {x});
  }
  test::require_gradcheck([](const std::vector<var>& in) { return global_avg_pool2d(in[0]); }, {x});
}

TEST_CASE("average pooling rejects impossible shapes", "[tensor][avg_pool]") {
  REQUIRE_THROWS_WITH(avg_pool2d(var(zeros({1, 1, 2, 2})), 3, 1), Catch::Contains("larger than the input 2x2"));
  REQUIRE_THROWS_WITH(avg_pool2d(var(zeros({4, 4})), 2, 2), Catch::Contains("[N, C, H, W], got [4, 4]"));
  REQUIRE_THROWS_WITH(global_avg_pool2d(var(zeros({2, 3}))), Catch::Contains("[N, C, H, W], got [2, 3]"));
}
