#include <catch2/catch.hpp>

#include "bandit/environment.hpp"
#include "bandit_test_util.hpp"

using namespace troupe::bandit;

TEST_CASE("gaps are μ* − μ_k", "[bandit][environment]") {
  CHECK(gaps(test::fed2({0.25, 1.0, 0.5}, 10, 1)) == std::vector<double>{0.75, 0.0, 0.5});
}

TEST_CASE("the skewed exact model is the authors' A for K = 10, M = 5", "[bandit][environment]") {
  const auto p = test::fed1(test::paper_means, 1000, 5, 10);
  const auto local = exact_local_means(p);
  REQUIRE(local.size() == 5);
  for (std::size_t m = 0; m < 5; ++m)
    for (std::size_t k = 0; k < 10; ++k) {
      const double a = (k == m || k == 9 - m) ? 4.2 : 0.2;
      CHECK(local[m][k] == Approx(test::paper_means[k] * a));
    }
  for (std::size_t k = 0; k < 10; ++k) {
    double sum = 0;
    for (const auto& row : local)
      sum += row[k];
    CHECK(sum / 5 == Approx(test::paper_means[k]).epsilon(1e-12));
  }
}

TEST_CASE("the centered exact model averages to μ_k exactly and differs between clients", "[bandit][environment]") {
  auto p = test::fed1(test::paper_means, 1000, 7, 10);
  p.exact = troupe::config::exact_kind::centered;
  p.sigma_c = 0.1;
  const auto local = exact_local_means(p);
  for (std::size_t k = 0; k < 10; ++k) {
    double sum = 0;
    for (const auto& row : local)
      sum += row[k];
    CHECK(sum / 7 == Approx(test::paper_means[k]).margin(1e-12));
  }
  CHECK(local[0] != local[1]);
}

TEST_CASE("a client's model and observations depend only on (seed, id)", "[bandit][environment]") {
  const auto p = test::fed2(test::paper_means, 1000, 10, 42);
  const client_factory f(p), g(p);
  client_state a = f.make(7), b = g.make(7), c = f.make(8);
  CHECK(a.local_means() == b.local_means());
  CHECK(a.local_means() != c.local_means());
  a.play_phase({0, 3}, 100);
  b.play_phase({0, 3}, 100);
  CHECK(a.upload({0, 3}) == b.upload({0, 3}));
  CHECK(a.pulls(3) == 100);
  CHECK(a.pulls(1) == 0);
}

TEST_CASE("approximate local means spread σ_c around μ_k; sample means concentrate", "[bandit][environment]") {
  auto p = test::fed2({0.0, 1.0}, 1000, 10);
  p.sigma_c = 0.5;
  const client_factory f(p);
  double sum = 0, sq = 0;
  const int n = 4000;
  for (int id = 0; id < n; ++id) {
    const double d = f.make(static_cast<std::uint64_t>(id)).local_means()[1] - 1.0;
    sum += d;
    sq += d * d;
  }
  CHECK(sum / n == Approx(0).margin(0.03));
  CHECK(std::sqrt(sq / n) == Approx(0.5).epsilon(0.05));
  client_state c = f.make(1);
  c.pull(1, 1000000); // σ/sqrt(n) = 5e-4
  CHECK(c.sample_mean(1) == Approx(c.local_means()[1]).margin(3e-3));
}
