#include "tensor/ops/loss.hpp"

#include "../golden/golden_util.hpp"
#include "../golden/ops_golden.hpp"

using namespace troupe;
using namespace troupe::tensor;

TEST_CASE("softmax cross-entropy is mean-reduced and numerically stable", "[tensor][loss]") {
  // Row 0: logits (1, 2, 3), label 2: loss = log(e + e^2 + e^3) − 3 = 0.40760596
  // Row 1: logits (1000, 0, −1000), label 0: loss ≈ 0 (naive exp would overflow)
  var z(array{{1.f, 2.f, 3.f}, {1000.f, 0.f, -1000.f}}, true);
  var loss = softmax_cross_entropy(z, std::vector<std::int32_t>{2, 0});
  REQUIRE(loss.value()() == Approx((0.40760596 + 0.0) / 2).epsilon(1e-6));
  loss.backward();
  // d/dz = (softmax − onehot) / N
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0), s = e1 + e2 + e3;
  REQUIRE(z.grad()(0, 0) == Approx(e1 / s / 2).epsilon(1e-5));
  REQUIRE(z.grad()(0, 2) == Approx((e3 / s - 1.0) / 2).epsilon(1e-5));
  REQUIRE(z.grad()(1, 0) == Approx(0.0).margin(1e-7));
}

TEST_CASE("probability targets give the same loss as one-hot class indices", "[tensor][loss]") {
  const array zv = test::random_array({4, 5}, 9, -3.f, 3.f);
  const std::vector<std::int32_t> labels{0, 4, 2, 2};
  array onehot = zeros({4, 5});
  for (std::size_t i = 0; i < 4; ++i)
    onehot(i, static_cast<std::size_t>(labels[i])) = 1.f;
  var a(zv, true), b(zv, true);
  var la = softmax_cross_entropy(a, labels), lb = softmax_cross_entropy(b, onehot);
  REQUIRE(la.value()() == Approx(lb.value()()).epsilon(1e-6));
  la.backward();
  lb.backward();
  test::require_close(a.grad(), b.grad(), 1e-6f);
}

TEST_CASE("losses pass the gradient check", "[tensor][loss][gradcheck]") {
  auto z = test::random_var({5, 4}, 21);
  test::require_gradcheck(
      [](const std::vector<var>& v) {
        return softmax_cross_entropy(v[0], std::vector<std::int32_t>{0, 3, 1, 1, 2});
      },
      {z});
  array soft = test::random_array({5, 4}, 22, 0.f, 1.f); // unnormalised on purpose: the general formula
  test::require_gradcheck([soft](const std::vector<var>& v) { return softmax_cross_entropy(v[0], soft); }, {z});
  const array target = test::random_array({5, 4}, 23);
  test::require_gradcheck([target](const std::vector<var>& v) { return mse_loss(v[0], target); }, {z});
}

TEST_CASE("mse is the mean of squared differences", "[tensor][loss]") {
  var p(array{1.f, 2.f, 3.f}, true);
  var l = mse_loss(p, array{1.f, 0.f, 6.f});
  REQUIRE(l.value()() == Approx((0.0 + 4.0 + 9.0) / 3));
  l.backward();
  test::require_equal(p.grad(), array{0.f, 4.f / 3.f, -2.f});
}

TEST_CASE("bad labels are rejected with the sample named", "[tensor][loss]") {
  var z(zeros({2, 3}));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(z, std::vector<std::int32_t>{0, 3}),
                      Catch::Contains("label 3 of sample 1 is outside [0, 3)"));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(z, std::vector<std::int32_t>{0}), Catch::Contains("1 labels for 2 rows"));
}

TEST_CASE("label smoothing matches PyTorch's cross_entropy(label_smoothing=0.1)", "[tensor][loss][golden]") {
  var z(test::golden::fill({4, 5}, 0.6, 2.0), true);
  var loss = softmax_cross_entropy(z, std::vector<std::int32_t>{1, 0, 4, 2}, 0.1f);
  loss.backward();
  test::golden::require_golden(loss.value(), test::golden::smoothed_ce_loss);
  test::golden::require_golden(z.grad(), test::golden::smoothed_ce_dz);
}

TEST_CASE("label smoothing 0 is bit-identical to the loss without it", "[tensor][loss]") {
  const array zv = test::random_array({6, 7}, 24, -4.f, 4.f);
  const std::vector<std::int32_t> labels{0, 6, 3, 3, 1, 2};
  var a(zv, true), b(zv, true);
  var la = softmax_cross_entropy(a, labels), lb = softmax_cross_entropy(b, labels, 0.0f);
  test::require_equal(la.value(), lb.value());
  la.backward();
  lb.backward();
  test::require_equal(a.grad(), b.grad());
}

TEST_CASE("label smoothing equals the probability-target loss against the smoothed targets", "[tensor][loss]") {
  const array zv = test::random_array({3, 4}, 25, -2.f, 2.f);
  const std::vector<std::int32_t> labels{3, 0, 1};
  array smoothed = zeros({3, 4}) + 0.25f * 0.3f;
  for (std::size_t i = 0; i < 3; ++i)
    smoothed(i, static_cast<std::size_t>(labels[i])) += 0.7f;
  var a(zv, true), b(zv, true);
  var la = softmax_cross_entropy(a, labels, 0.3f), lb = softmax_cross_entropy(b, smoothed);
  REQUIRE(la.value()() == Approx(lb.value()()).epsilon(1e-6));
  la.backward();
  lb.backward();
  test::require_close(a.grad(), b.grad(), 1e-6f);
}

TEST_CASE("label smoothing passes the gradient check and is bounded to [0, 1]", "[tensor][loss][gradcheck]") {
  auto z = test::random_var({5, 4}, 26);
  const std::vector<std::int32_t> labels{0, 3, 1, 1, 2};
  for (const float eps : {0.1f, 1.0f}) {
    CAPTURE(eps);
    test::require_gradcheck([&](const std::vector<var>& v) { return softmax_cross_entropy(v[0], labels, eps); }, {z});
  }
  REQUIRE_THROWS_WITH(softmax_cross_entropy(z, labels, 1.5f), Catch::Contains("label_smoothing must be in [0, 1]"));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(z, labels, -0.1f), Catch::Contains("label_smoothing must be in [0, 1]"));
}
