#include "tensor/ops/conv2d.hpp"

#include <thread>

#include <xtensor/xview.hpp>

#include "../golden/golden_util.hpp"
#include "../golden/ops_golden.hpp"

using namespace troupe;
using namespace troupe::tensor;

namespace {

/// The fast kernels this build has: im2col+GEMM, and oneDNN's where built with it; and the
/// per-layer choice between them (auto), so every test of a fast kernel covers it too.
std::vector<conv_algo> fast_algos() {
  std::vector<conv_algo> algos{conv_algo::im2col_gemm};
  if (conv_algo_available(conv_algo::dnnl))
    algos.push_back(conv_algo::dnnl);
  algos.push_back(conv_algo::automatic);
  return algos;
}

/// Every kernel: the fast ones and the naive reference.
std::vector<conv_algo> all_algos() {
  auto algos = fast_algos();
  algos.push_back(conv_algo::naive);
  return algos;
}

} // namespace

TEST_CASE("conv2d is a cross-correlation with PyTorch's output size", "[tensor][conv2d]") {
  // x = 1..9 as a 3x3 image, w = [[1, 0], [0, -1]]: y[i][j] = x[i][j] - x[i+1][j+1] = -4 everywhere.
  var x(array{{{{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}, {7.f, 8.f, 9.f}}}});
  var w(array{{{{1.f, 0.f}, {0.f, -1.f}}}});
  var b(array{0.5f});
  for (auto algo : all_algos()) {
    CAPTURE(std::string(conv_algo_name(algo)));
    const array y = conv2d(x, w, b, 1, 0, algo).value();
    REQUIRE(shape_of(y) == shape_t{1, 1, 2, 2});
    test::require_equal(y, array{{{{-3.5f, -3.5f}, {-3.5f, -3.5f}}}});
    // padding 1, stride 2: output ⌊(3 + 2 − 2)/2⌋ + 1 = 2; the corners see only x·w11 except
    // y[1][1] = x[1][1]·w00 + x[2][2]·w11 = 5 − 9
    const array yp = conv2d(x, w, var(), 2, 1, algo).value();
    test::require_equal(yp, array{{{{-1.f, -3.f}, {-7.f, -4.f}}}});
  }
}

TEST_CASE("the fast conv2d kernels (im2col+GEMM, oneDNN) match the naive kernel", "[tensor][conv2d]") {
  // kh, kw, sh, sw, ph, pw per dimension; the square cases are the ones the model uses. The last
  // case's stride drops the last input row and column (oneDNN's right padding is then negative).
  struct shape_case {
    std::size_t n, c, h, w, oc, kh, kw, sh, sw, ph, pw;
  };
  const auto sc =
      GENERATE(shape_case{2, 1, 28, 28, 8, 3, 3, 1, 1, 0, 0}, shape_case{3, 4, 13, 13, 6, 3, 3, 1, 1, 0, 0},
               shape_case{2, 3, 9, 7, 5, 3, 3, 2, 2, 1, 1}, shape_case{1, 2, 8, 8, 4, 5, 5, 1, 1, 2, 2},
               shape_case{20, 2, 6, 6, 3, 1, 1, 1, 1, 0, 0}, shape_case{2, 2, 7, 9, 3, 4, 4, 3, 3, 2, 2},
               shape_case{2, 3, 7, 9, 4, 3, 2, 2, 1, 1, 2}, shape_case{2, 2, 10, 6, 3, 1, 5, 1, 2, 0, 2},
               shape_case{1, 3, 8, 11, 2, 4, 3, 3, 2, 2, 0}, shape_case{3, 2, 5, 5, 4, 5, 1, 1, 3, 0, 1},
               shape_case{2, 3, 9, 9, 4, 2, 2, 3, 3, 0, 0}, shape_case{4, 32, 13, 13, 64, 3, 3, 1, 1, 0, 0});
  CAPTURE(sc.n, sc.c, sc.h, sc.w, sc.oc, sc.kh, sc.kw, sc.sh, sc.sw, sc.ph, sc.pw);
  const conv2d_params p{sc.sh, sc.sw, sc.ph, sc.pw};
  var xr = test::random_var({sc.n, sc.c, sc.h, sc.w}, 1);
  var wr = test::random_var({sc.oc, sc.c, sc.kh, sc.kw}, 2);
  var br = test::random_var({sc.oc}, 3);
  var ref = conv2d(xr, wr, br, p, conv_algo::naive);
  const array seed = test::random_array(ref.shape(), 4);
  ref.backward(seed);

  for (auto algo : fast_algos()) {
    CAPTURE(std::string(conv_algo_name(algo)));
    var x(xr.value(), true), w(wr.value(), true), b(br.value(), true);
    var fast = conv2d(x, w, b, p, algo);
    test::require_close(fast.value(), ref.value(), 1e-4f);
    fast.backward(seed);
    test::require_close(x.grad(), xr.grad(), 1e-4f);
    test::require_close(w.grad(), wr.grad(), 1e-3f);
    test::require_close(b.grad(), br.grad(), 1e-3f);
  }
}

TEST_CASE("conv2d passes the gradient check with every kernel", "[tensor][conv2d][gradcheck]") {
  auto x = test::random_var({2, 2, 5, 6}, 5), w = test::random_var({3, 2, 3, 3}, 6), b = test::random_var({3}, 7);
  for (auto algo : all_algos())
    for (std::size_t stride : {1, 2})
      for (std::size_t pad : {0, 1}) {
        CAPTURE(stride, pad, std::string(conv_algo_name(algo)));
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
  for (auto algo : all_algos()) {
    CAPTURE(std::string(conv_algo_name(algo)));
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
  for (auto algo : all_algos())
    for (const conv2d_params p : {conv2d_params{1, 2, 0, 1}, conv2d_params{2, 1, 1, 0}}) {
      CAPTURE(p.sh, p.sw, p.ph, p.pw, std::string(conv_algo_name(algo)));
      test::require_gradcheck([&](const std::vector<var>& v) { return conv2d(v[0], v[1], v[2], p, algo); }, {x, w, b});
    }
}

TEST_CASE("the square-argument conv2d is the per-dimension one with equal arguments, bit for bit", "[tensor][conv2d]") {
  for (auto algo : all_algos()) {
    CAPTURE(std::string(conv_algo_name(algo)));
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

TEST_CASE("conv2d's selected backend is set per process and names parse back", "[tensor][conv2d]") {
  const conv_algo before = conv_backend();
  REQUIRE(before == conv_algo::automatic); // the default until set_conv_backend says otherwise
  for (auto algo : all_algos())
    REQUIRE(parse_conv_algo(conv_algo_name(algo)) == algo);
  REQUIRE_THROWS_WITH(parse_conv_algo("winograd"), Catch::Contains("expected naive, gemm, dnnl or auto"));
  REQUIRE_THROWS_WITH(set_conv_backend(conv_algo::selected), Catch::Contains("needs a backend"));
  if (!conv_algo_available(conv_algo::dnnl))
    REQUIRE_THROWS_WITH(set_conv_backend(conv_algo::dnnl), Catch::Contains("TROUPE_WITH_DNNL=OFF"));

  // conv_algo::selected (the default argument) follows the setting: bitwise the explicit backend.
  var x = test::random_var({2, 3, 7, 7}, 15), w = test::random_var({4, 3, 3, 3}, 16), b = test::random_var({4}, 17);
  for (auto algo : all_algos()) {
    CAPTURE(std::string(conv_algo_name(algo)));
    set_conv_backend(algo);
    REQUIRE(conv_backend() == algo);
    test::require_equal(conv2d(x, w, b, 1, 1).value(), conv2d(x, w, b, 1, 1, algo).value());
  }
  set_conv_backend(before);
}

TEST_CASE("conv2d's auto backend runs an image's first layer on im2col+GEMM and deeper layers on oneDNN, bitwise",
          "[tensor][conv2d]") {
  const bool dnnl = conv_algo_available(conv_algo::dnnl);
  // The reference CNN's conv1 (1 channel in) and conv2 (32 in), and an RGB first layer.
  const std::vector<std::pair<shape_t, shape_t>> layers{
      {{2, 1, 12, 12}, {8, 1, 3, 3}}, {{2, 32, 6, 6}, {16, 32, 3, 3}}, {{2, 3, 8, 8}, {4, 3, 3, 3}}};
  std::uint64_t seed = 40;
  for (const auto& [xs, ws] : layers) {
    const auto g = make_conv2d_geometry(xs, ws, 1, 1);
    const conv_algo expected = g.c > 3 && dnnl ? conv_algo::dnnl : conv_algo::im2col_gemm;
    CAPTURE(g.c);
    REQUIRE(auto_conv_algo(g) == expected);
    // Forward and backward of auto are the chosen backend's, bit for bit.
    var x = test::random_var(xs, seed++), w = test::random_var(ws, seed++), b = test::random_var({ws[0]}, seed++);
    var x2 = test::random_var(xs, seed - 3), w2 = test::random_var(ws, seed - 2),
        b2 = test::random_var({ws[0]}, seed - 1);
    var chosen = conv2d(x, w, b, 1, 1, expected), automatic = conv2d(x2, w2, b2, 1, 1, conv_algo::automatic);
    test::require_equal(automatic.value(), chosen.value());
    const array dy = test::random_array(chosen.shape(), seed++);
    chosen.backward(dy);
    automatic.backward(dy);
    test::require_equal(x2.grad(), x.grad());
    test::require_equal(w2.grad(), w.grad());
    test::require_equal(b2.grad(), b.grad());
  }
}

TEST_CASE("oneDNN conv2d accumulates gradients, reuses its primitives and runs without gradients",
          "[tensor][conv2d][dnnl]") {
  if (!conv_algo_available(conv_algo::dnnl)) {
    WARN("built without oneDNN (TROUPE_WITH_DNNL=OFF): nothing to test");
    return;
  }
  const conv2d_params p{1, 1, 1, 1};
  var x = test::random_var({3, 4, 9, 9}, 18), w = test::random_var({8, 4, 3, 3}, 19), b = test::random_var({8}, 20);
  var once = conv2d(x, w, b, p, conv_algo::dnnl);
  const array seed = test::random_array(once.shape(), 21);
  once.backward(seed);
  const array dx = x.grad(), dw = w.grad(), db = b.grad();

  // A second graph of the same shapes reuses the cached primitives: bitwise the same output, and
  // its backward adds onto the gradients already there.
  var twice = conv2d(x, w, b, p, conv_algo::dnnl);
  test::require_equal(twice.value(), once.value());
  twice.backward(seed);
  test::require_close(x.grad(), array(2.0f * dx), 1e-6f);
  test::require_close(w.grad(), array(2.0f * dw), 1e-6f);
  test::require_close(b.grad(), array(2.0f * db), 1e-6f);

  // Without gradients (evaluation), and for another batch size, the same numbers.
  {
    no_grad_guard guard;
    test::require_equal(conv2d(x, w, b, p, conv_algo::dnnl).value(), once.value());
  }
  var first(array(xt::view(x.value(), xt::range(0, 1))));
  test::require_close(conv2d(first, w, b, p, conv_algo::dnnl).value(), array(xt::view(once.value(), xt::range(0, 1))),
                      1e-6f);

  // Only the input needs its gradient (a frozen layer), and no bias at all.
  var xi(x.value(), true), wf(w.value(), false);
  var y = conv2d(xi, wf, var(), p, conv_algo::dnnl);
  var xn(x.value(), true), wn(w.value(), false);
  var yn = conv2d(xn, wn, var(), p, conv_algo::naive);
  test::require_close(y.value(), yn.value(), 1e-4f);
  y.backward(seed);
  yn.backward(seed);
  test::require_close(xi.grad(), xn.grad(), 1e-4f);
}

TEST_CASE("oneDNN conv2d on two threads at once gives each thread the one-thread result", "[tensor][conv2d][dnnl]") {
  // The trainer's replicas run conv2d side by side, each with its own cached primitives.
  if (!conv_algo_available(conv_algo::dnnl)) {
    WARN("built without oneDNN (TROUPE_WITH_DNNL=OFF): nothing to test");
    return;
  }
  const array x = test::random_array({4, 8, 13, 13}, 22), w = test::random_array({16, 8, 3, 3}, 23);
  const array seed = test::random_array({4, 16, 11, 11}, 24);
  auto run = [&](array& y, array& dx, array& dw) {
    for (int step = 0; step < 5; ++step) {
      var xv(x, true), wv(w, true);
      var out = conv2d(xv, wv, var(), 1, 0, conv_algo::dnnl);
      out.backward(seed);
      y = out.value();
      dx = xv.grad();
      dw = wv.grad();
    }
  };
  array y, dx, dw, y1, dx1, dw1, y2, dx2, dw2;
  run(y, dx, dw);
  std::thread t1([&] { run(y1, dx1, dw1); }), t2([&] { run(y2, dx2, dw2); });
  t1.join();
  t2.join();
  for (const auto* r : {&y1, &y2})
    test::require_equal(*r, y);
  for (const auto* r : {&dx1, &dx2})
    test::require_equal(*r, dx);
  for (const auto* r : {&dw1, &dw2})
    test::require_equal(*r, dw);
}
