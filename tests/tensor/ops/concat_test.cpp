#include "tensor/ops/concat.hpp"

#include "../golden/golden_util.hpp"
#include "../golden/ops_golden.hpp"

using namespace troupe;
using namespace troupe::tensor;
namespace golden = troupe::test::golden;

TEST_CASE("concat_channels matches torch.cat over dim 1, values and gradients", "[tensor][concat][golden]") {
  var a(golden::fill({2, 2, 3, 3}, 0.1), true), b(golden::fill({2, 3, 3, 3}, 0.5), true);
  var y = concat_channels({a, b});
  REQUIRE(y.shape() == shape_t{2, 5, 3, 3});
  y.backward(golden::fill(y.shape(), 0.9));
  golden::require_golden(y.value(), golden::concat_y);
  golden::require_golden(a.grad(), golden::concat_da);
  golden::require_golden(b.grad(), golden::concat_db);
}

TEST_CASE("concat_channels joins features of [N, F] inputs and passes the gradient check", "[tensor][concat]") {
  var a(array{{1.f, 2.f}, {3.f, 4.f}}), b(array{{5.f, 7.f}, {6.f, 8.f}});
  test::require_equal(concat_channels({a, b}).value(), array{{1.f, 2.f, 5.f, 7.f}, {3.f, 4.f, 6.f, 8.f}});
  var x = test::random_var({2, 1, 4, 3}, 51), y = test::random_var({2, 2, 4, 3}, 52), z = test::random_var({2, 3}, 53);
  test::require_gradcheck([](const std::vector<var>& in) { return concat_channels({in[0], in[1], in[0]}); }, {x, y});
  test::require_gradcheck([](const std::vector<var>& in) { return concat_channels({in[0], in[0]}); }, {z});
}

TEST_CASE("concat_channels rejects inputs that differ outside the channel axis, naming both shapes",
          "[tensor][concat]") {
  REQUIRE_THROWS_WITH(concat_channels({var(zeros({2, 1, 4, 4})), var(zeros({2, 1, 4, 5}))}),
                      Catch::Contains("input 1 has shape [2, 1, 4, 5], which differs from input 0's [2, 1, 4, 4]"));
  REQUIRE_THROWS_WITH(concat_channels({var(zeros({2, 1, 4, 4})), var(zeros({3, 1, 4, 4}))}),
                      Catch::Contains("[3, 1, 4, 4]"));
  REQUIRE_THROWS_WITH(concat_channels({var(zeros({4}))}), Catch::Contains("[N, C, ...], got [4]"));
}
