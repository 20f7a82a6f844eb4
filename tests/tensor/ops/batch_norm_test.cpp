#include "tensor/ops/batch_norm.hpp"

#include "../golden/golden_util.hpp"
#include "../golden/ops_golden.hpp"

using namespace troupe;
using namespace troupe::tensor;
namespace golden = troupe::test::golden;

namespace {

/// One BatchNorm variant and PyTorch's values for a training step followed by an evaluation.
template <std::size_t Y, std::size_t C>
struct bn_case {
  shape_t x_shape;
  const double (&train_y)[Y];
  const double (&train_dx)[Y];
  const double (&train_dweight)[C];
  const double (&train_dbias)[C];
  const double (&running_mean)[C];
  const double (&running_var)[C];
  const double (&eval_y)[Y];
  const double (&eval_dx)[Y];
  const double (&eval_dweight)[C];
  const double (&eval_dbias)[C];
};

template <std::size_t Y, std::size_t C>
void check_against_pytorch(const bn_case<Y, C>& k) {
  const std::size_t c = k.x_shape[1];
  var weight(golden::fill({c}, 0.2, 0.5, 1.0), true), bias(golden::fill({c}, 0.3), true);
  array running_mean = golden::fill({c}, 0.7, 0.1), running_var = golden::fill({c}, 0.8, 0.5, 1.0);

  var x(golden::fill(k.x_shape, 0.1, 2.0, 0.5), true);
  var y = batch_norm(x, weight, bias, running_mean, running_var, {true, 0.1f, 1e-5f});
  y.backward(golden::fill(y.shape(), 0.9));
  golden::require_golden(y.value(), k.train_y);
  golden::require_golden(x.grad(), k.train_dx);
  golden::require_golden(weight.grad(), k.train_dweight);
  golden::require_golden(bias.grad(), k.train_dbias);
  // momentum 0.1 towards the batch mean and the unbiased batch variance
  golden::require_golden(running_mean, k.running_mean);
  golden::require_golden(running_var, k.running_var);

  weight.zero_grad();
  bias.zero_grad();
  var x2(golden::fill(k.x_shape, 0.4, 1.5), true);
  const array mean_before = running_mean, var_before = running_var;
  var y2 = batch_norm(x2, weight, bias, running_mean, running_var, {false, 0.1f, 1e-5f});
  y2.backward(golden::fill(y2.shape(), 0.9));
  golden::require_golden(y2.value(), k.eval_y);
  golden::require_golden(x2.grad(), k.eval_dx);
  golden::require_golden(weight.grad(), k.eval_dweight);
  golden::require_golden(bias.grad(), k.eval_dbias);
  test::require_equal(running_mean, mean_before); // evaluation reads the running statistics only
  test::require_equal(running_var, var_before);
}

} // namespace

TEST_CASE("batch_norm over NCHW matches PyTorch's BatchNorm2d in training and evaluation",
          "[tensor][batch_norm][golden]") {
  using namespace golden;
  check_against_pytorch(bn_case<120, 2>{{3, 2, 4, 5},
                                        bn2d_train_y,
                                        bn2d_train_dx,
                                        bn2d_train_dweight,
                                        bn2d_train_dbias,
                                        bn2d_running_mean,
                                        bn2d_running_var,
                                        bn2d_eval_y,
                                        bn2d_eval_dx,
                                        bn2d_eval_dweight,
                                        bn2d_eval_dbias});
}

TEST_CASE("batch_norm over [N, F] matches PyTorch's BatchNorm1d in training and evaluation",
          "[tensor][batch_norm][golden]") {
  using namespace golden;
  check_against_pytorch(bn_case<20, 4>{{5, 4},
                                       bn1d_train_y,
                                       bn1d_train_dx,
                                       bn1d_train_dweight,
                                       bn1d_train_dbias,
                                       bn1d_running_mean,
                                       bn1d_running_var,
                                       bn1d_eval_y,
                                       bn1d_eval_dx,
                                       bn1d_eval_dweight,
                                       bn1d_eval_dbias});
}

TEST_CASE("batch_norm passes the gradient check in training and evaluation", "[tensor][batch_norm][gradcheck]") {
  for (const shape_t& shape : {shape_t{3, 2, 3, 4}, shape_t{6, 3}}) {
    const std::size_t c = shape[1];
    var x(golden::fill(shape, 0.1, 2.0, 0.5), true);
    var weight(golden::fill({c}, 0.2, 0.5, 1.0), true), bias(golden::fill({c}, 0.3), true);
    for (const bool training : {true, false}) {
      CAPTURE(shape_str(shape), training);
      // Copies: training updates them on every call, which must not change what is checked.
      array mean = zeros({c}), variance = zeros({c}) + 1.0f;
      test::require_gradcheck(
          [&](const std::vector<var>& in) { return batch_norm(in[0], in[1], in[2], mean, variance, {training}); },
          {x, weight, bias});
    }
  }
}

TEST_CASE("batch_norm without affine parameters normalises to mean 0 and variance 1", "[tensor][batch_norm]") {
  array mean = zeros({2}), variance = zeros({2}) + 1.0f;
  var y = batch_norm(var(golden::fill({4, 2, 3, 3}, 0.5, 3.0, 2.0)), var(), var(), mean, variance, {true, 1.0f});
  for (std::size_t f = 0; f < 2; ++f) {
    double s = 0, sq = 0;
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t j = 0; j < 9; ++j) {
        const double v = y.value().data()[(i * 2 + f) * 9 + j];
        s += v;
        sq += v * v;
      }
    CHECK(s / 36 == Approx(0.0).margin(1e-6));
    CHECK(sq / 36 == Approx(1.0).epsilon(1e-4)); // biased variance of (x − μ)/√(σ² + eps)
  }
}

TEST_CASE("batch_norm rejects bad shapes and a training batch of one value per feature", "[tensor][batch_norm]") {
  array mean = zeros({3}), variance = zeros({3}) + 1.0f;
  REQUIRE_THROWS_WITH(batch_norm(var(zeros({1, 3})), var(), var(), mean, variance, {true}),
                      Catch::Contains("more than one value per feature, got input [1, 3]"));
  REQUIRE_NOTHROW(batch_norm(var(zeros({1, 3})), var(), var(), mean, variance, {false}));
  REQUIRE_THROWS_WITH(batch_norm(var(zeros({2, 4})), var(), var(), mean, variance, {true}),
                      Catch::Contains("running_mean must be [4], got [3]"));
  REQUIRE_THROWS_WITH(batch_norm(var(zeros({2, 3})), var(zeros({2})), var(), mean, variance, {true}),
                      Catch::Contains("weight must be [3], got [2]"));
  REQUIRE_THROWS_WITH(batch_norm(var(zeros({2, 3, 4})), var(), var(), mean, variance, {true}),
                      Catch::Contains("[N, C] or [N, C, H, W]"));
}
