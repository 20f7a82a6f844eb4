#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "bandit/running_stats.hpp"

using troupe::bandit::running_stats;

TEST_CASE("running_stats: mean, sample variance and standard error of a known sample", "[bandit][stats]") {
  // {2, 4, 4, 4, 5, 5, 7, 9}: mean 5, Σ(x − 5)² = 32, s² = 32/7, s.e. = sqrt(32/7 / 8) = sqrt(4/7).
  const std::vector<double> sample = {2, 4, 4, 4, 5, 5, 7, 9};
  SECTION("as given") {
    running_stats s;
    for (double x : sample)
      s.add(x);
    CHECK(s.count() == 8);
    CHECK(s.mean() == Approx(5).epsilon(1e-15));
    CHECK(s.variance() == Approx(32.0 / 7).epsilon(1e-14));
    CHECK(s.standard_error() == Approx(std::sqrt(4.0 / 7)).epsilon(1e-14));
  }
  SECTION("shifted by 10^9: the spread survives (a sum of squares would cancel to noise)") {
    running_stats s;
    for (double x : sample)
      s.add(1e9 + x);
    CHECK(s.mean() == Approx(1e9 + 5).epsilon(1e-15));
    CHECK(s.variance() == Approx(32.0 / 7).epsilon(1e-6));
    CHECK(s.standard_error() == Approx(std::sqrt(4.0 / 7)).epsilon(1e-6));
  }
}

TEST_CASE("running_stats: no spread from fewer than two values", "[bandit][stats]") {
  running_stats s;
  CHECK(s.count() == 0);
  CHECK(s.mean() == 0);
  CHECK(s.standard_error() == 0);
  s.add(3.5);
  CHECK(s.mean() == 3.5);
  CHECK(s.variance() == 0);
  CHECK(s.standard_error() == 0);
  s.add(3.5);
  CHECK(s.standard_error() == 0);
  s.add(6.5); // {3.5, 3.5, 6.5}: mean 4.5, s² = (1 + 1 + 4)/2 = 3
  CHECK(s.variance() == Approx(3));
  CHECK(s.standard_error() == Approx(1));
}
