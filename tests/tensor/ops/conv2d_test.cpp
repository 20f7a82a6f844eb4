#include "tensor/ops/conv2d.hpp"

#include "../golden/golden_util.hpp"
#include "../golden/ops_golden.hpp"

using namespace troupe;
using namespace troupe::tensor;

TEST_CASE("conv2d is a cross-correlation with PyTorch's output size", "[tensor][conv2d]") {
  // x = 1..9 as a 3x3 image, w = [[1, 0], [0, -1]]: y[i][j] = x[i][j] - x[i+1][j+1] = -4 everywhere.
  var x(array{{{{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}, {7.f, 8.f, 9.f}}}});
  var w(array{{{{1.f, 0.f}, {0.f, -1.f}}}});
  var b(array{0.5f});
  for (auto algo : {conv_algo::naive, conv_algo::im2col_gemm}) {
    const array y = conv2d(x, w, b, 1, 0, algo).value();
    REQUIRE(shape_of(y) == shape_t{1, 1, 2, 2});
    test::require_equal(y, array{{{{-3.5f, -3.5f}, {-3.5f, -3.5f}}}});
    // padding 1, stride 2: output ⌊(3 + 2 − 2)/2⌋ + 1 = 2; the corners see only x·w11 except
    // y[1][1] = x[1][1]·w00 + x[2][2]·w11 = 5 − 9
    const array yp = conv2d(x, w, var(), 2, 1, algo).value();
    test::require_equal(yp, array{{{{-1.f, -3.f}, {-7.f, -4.f}}}});
  }
}

TEST_CASE("im2col+GEMM conv2d matches the naive kernel", "[tensor][conv2d]") {
  // kh, kw, sh, sw, ph, pw per dimension; the square cases are the ones the model uses.
  struct shape_case {
    std::size_t n, c, h, w, oc, kh, kw, sh, sw, ph, pw;
  };
  const auto sc = GENERATE(shape_case{2, 1, 28, 28, 8, 3, 3, 1, 1, 0, 0}, shape_case{3, 4, 13, 13, 6, 3, 3, 1, 1, 0, 0},
                           shape_case{2, 3, 9, 7, 5, 3, 3, 2, 2, 1, 1}, shape_case{1, 2, 8, 8, 4, 5, 5, 1, 1, 2, 2},
                           shape_case{20, 2, 6, 6, 3, 1, 1, 1, 1, 0, 0}, shape_case{2, 2, 7, 9, 3, 4, 4, 3, 3, 2, 2},
                           shape_case{2, 3, 7, 9, 4, 3, 2, 2, 1, 1, 2}, shape_case{2, 2, 10, 6, 3, 1, 5, 1, 2, 0, 2},
                           shape_case{1, 3, 8, 11, 2, 4, 3, 3, 2, 2, 0}, shape_case{3, 2, 5, 5, 4, 5, 1, 1, 3, 0, 1});
  CAPTURE(sc.n, sc.c, sc.h, sc.w, sc.oc, sc.kh, sc.kw, sc.sh, sc.sw, sc.ph, sc.pw);
  var x = test::random_var({sc.n, sc.c, sc.h, sc.w}, 1);
  var w = test::random_var({sc.oc, sc.c, sc.kh, sc.kw}, 2);
  var b = test::random_var({sc.oc}, 3);
  var xr(x.value(), true), wr(w.value(), true), br(b.value(), true);

  const conv2d_params p{sc.sh, sc.sw, sc.ph, sc.pw};
  var fast = conv2d(x, w, b, p, conv_algo::im2col_gemm);
  var ref = conv2d(xr, wr, br, p, conv_algo::naive);
  test::require_close(fast.value(), ref.value(), 1e-4f);

  const array seed = test::random_array(fast.shape(), 4);
  fast.backward(seed);
  ref.backward(seed);
  test::require_close(x.grad(), xr.grad(), 1e-4f);
  test::require_close(w.grad(), wr.grad(), 1e-3f);
  test::require_close(b.grad(), br.grad(), 1e-3f);
}

TEST_CASE("conv2d passes the gradient check with both kernels", "[tensor][conv2d][gradcheck]") {
  auto x = test::random_var({2, 2, 5, 6}, 5), w = test::random_var({3, 2, 3, 3}, 6), b = test::random_var({3}, 7);
  for (auto algo : {conv_algo::im2col_gemm, conv_algo::naive})
    for (std::size_t stride : {1, 2})
      for (std::size_t pad : {0, 1}) {
        CAPTURE(stride, pad, algo == conv_algo::naive);
        test::require_gradcheck([&](const std::vector<var>& v) { return conv2d(v[0], v[1], v[2], stride, pad, algo); },
                                {x, w, b});
      }
}

TEST_CASE("conv2d rejects impossible shapes with both shapes in the message", "[tensor][conv2d]") {
  var x(zeros({1, 3, 4, 4})), w(zeros({2, 2, 3, 3})), big(zeros({2, 3, 7, 7}));
  REQUIRE_THROWS_WITH(conv2d(x, w, var()), Catch::Contains("3 channels but the weight expects 2"));
  REQUIRE_THROWS_WITH(conv2d(x, big, var()), Catch::Contains("kernel 7x7 is larger than the padded input 4x4"));
  REQUIRE_THROWS_WITH(conv2d(var(zeros({3, 4, 4})), w, var()), Catch::Contains("[N, C, H, W]"));
}

TEST_CASE("conv2d with per-dimension kernel, stride and padding matches PyTorch", "[tensor][conv2d][golden]") {
  for (auto algo : {conv_algo::im2col_gemm, conv_algo::naive}) {
    CAPTURE(algo == conv_algo::naive);
    var x(test::golden::fill({2, 3, 7, 9}, 0.1), true), w(test::golden::fill({4, 3, 3, 2}, 0.2), true);
    var b(test::golden::fill({4}, 0.3), true);
    var y = conv2d(x, w, b, conv2d_params{2, 1, 1, 2}, algo); // kernel 3x2, stride (2, 1), padding (1, 2)
    REQUIRE(y.shape() == shape_t{2, 4, 4, 12});               // ⌊(7+2−3)/2⌋+1, ⌊(9+4−2)/1⌋+1
    y.backward(test::golden::fill(y.shape(), 0.9));
    test::golden::require_golden(y.value(), test::golden::conv_rect_y);
    test::golden::require_golden(x.grad(), test::golden::conv_rect_dx);
    test::golden::require_golden(w.grad(), test::golden::conv_rect_dw);
    test::golden::require_golden(b.grad(), test::golden::conv_rect_db);
  }
}

TEST_CASE("conv2d with per-dimension arguments passes the gradient check", "[tensor][conv2d][gradcheck]") {
  auto x = test::random_var({2, 2, 5, 6}, 8), w = test::random_var({3, 2, 2, 3}, 9), b = test::random_var({3}, 10);
  for (auto algo : {conv_algo::im2col_gemm, conv_algo::naive})
    for (const conv2d_params p : {conv2d_params{1, 2, 0, 1}, conv2d_params{2, 1, 1, 0}}) {
      CAPTURE(p.sh, p.sw, p.ph, p.pw, algo == conv_algo::naive);
      test::require_gradcheck([&](const std::vector<var>& v) { return conv2d(v[0], v[1], v[2], p, algo); }, {x, w, b});
    }
}

TEST_CASE("the square-argument conv2d is the per-dimension one with equal arguments, bit for bit", "[tensor][conv2d]") {
  for (auto algo : {conv_algo::im2col_gemm, conv_algo::naive}) {
    var x = test::random_var({2, 3, 9, 8}, 11), w = test::random_var({4, 3, 3, 3}, 12), b = test::random_var({4}, 13);
    var x2(x.value(), true), w2(w.value(), true), b2(b.value(), true);
    var square = conv2d(x, w, b, 2, 1, algo), general = conv2d(x2, w2, b2, conv2d_params{2, 2, 1, 1}, algo);
    test::require_equal(square.value(), general.value());
    const array seed = test::random_array(square.shape(), 14);
    square.backward(seed);
    general.backward(seed);
    test::require_equal(x.grad(), x2.grad());
    test::require_equal(w.grad(), w2.grad());
    test::require_equal(b.grad(), b2.grad());
  }
}
