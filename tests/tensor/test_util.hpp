#pragma once
// Shared helpers for the tensor tests.

#include <catch2/catch.hpp>

#include "common/rng.hpp"
#include "tensor/gradcheck.hpp"
#include "tensor/var.hpp"

#include <xtensor/xio.hpp>

namespace troupe::test {

/// Uniform values in [lo, hi) from a fixed seed.
inline tensor::array random_array(const tensor::shape_t& shape, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  rng gen(seed);
  tensor::array a = tensor::zeros(shape);
  for (auto& v : a)
    v = lo + static_cast<float>(gen.uniform()) * (hi - lo);
  return a;
}

/// A parameter-like leaf with random values.
inline tensor::var random_var(const tensor::shape_t& shape, std::uint64_t seed, bool requires_grad = true) {
  return tensor::var(random_array(shape, seed), requires_grad);
}

/// Runs gradcheck and reports the worst element on failure.
inline void require_gradcheck(const std::function<tensor::var(const std::vector<tensor::var>&)>& f,
                              const std::vector<tensor::var>& inputs, tensor::gradcheck_options options = {}) {
  const auto r = tensor::gradcheck(f, inputs, options);
  INFO("max abs error " << r.max_abs_error << "; " << r.worst);
  REQUIRE(r.checked > 0);
  REQUIRE(r.ok);
}

/// Element-wise |a - b| <= tol with a useful message.
inline void require_close(const tensor::array& a, const tensor::array& b, float tol) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i);
    REQUIRE(std::abs(a.data()[i] - b.data()[i]) <= tol);
  }
}

} // namespace troupe::test

namespace troupe::test {

/// Exact equality of shape and values, printing both on failure.
inline void require_equal(const tensor::array& a, const tensor::array& b) {
  INFO("got " << a << "\nexpected " << b);
  REQUIRE(tensor::shape_of(a) == tensor::shape_of(b));
  REQUIRE(std::equal(a.begin(), a.end(), b.begin()));
}

} // namespace troupe::test
