#include "ps/gradient_check.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

using namespace troupe;
using namespace troupe::ps;

namespace {

constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();
constexpr float inf_f = std::numeric_limits<float>::infinity();

} // namespace

TEST_CASE("count_nonfinite counts NaN and both infinities and nothing else", "[ps][gradient_check]") {
  const float edge[] = {0.f,
                        -0.f,
                        std::numeric_limits<float>::max(),
                        std::numeric_limits<float>::lowest(),
                        std::numeric_limits<float>::min(),
                        std::numeric_limits<float>::denorm_min(),
                        -std::numeric_limits<float>::denorm_min(),
                        1e38f};
  REQUIRE(count_nonfinite(edge, std::size(edge)) == 0);
  REQUIRE(count_nonfinite(edge, 0) == 0);

  // Lengths around the vector width, bad elements at the ends and in the middle.
  const std::size_t n = GENERATE(1, 7, 8, 9, 31, 1000, 225034);
  CAPTURE(n);
  std::vector<float> g(n, 0.25f);
  REQUIRE(count_nonfinite(g.data(), n) == 0);
  g[n - 1] = nan_f;
  REQUIRE(count_nonfinite(g.data(), n) == 1);
  g[0] = -inf_f; // n = 1: overwrites the NaN
  REQUIRE(count_nonfinite(g.data(), n) == (n == 1 ? 1 : 2));
  g[n / 2] = -nan_f; // a NaN with the sign bit set
  std::size_t expected = 0;
  for (float v : g)
    expected += std::isfinite(v) ? 0 : 1;
  REQUIRE(count_nonfinite(g.data(), n) == expected);
}

TEST_CASE("describe_nonfinite names the parameters holding NaN or Inf", "[ps][gradient_check]") {
  nn::param_layout l;
  l.entries = {{"0.weight", {3}, 0, 3}, {"0.bias", {1}, 3, 1}, {"2.weight", {2}, 4, 2}};
  l.total = 6;
  const float g[] = {nan_f, 1.f, nan_f, 2.f, inf_f, -nan_f};
  const auto r = describe_nonfinite(g, l);
  REQUIRE(r.nan == 3);
  REQUIRE(r.inf == 1);
  REQUIRE(r.params.size() == 2); // 0.bias is clean
  REQUIRE(r.params[0].name == "0.weight");
  REQUIRE(r.params[0].nan == 2);
  REQUIRE(r.params[0].inf == 0);
  REQUIRE(r.params[1].name == "2.weight");
  REQUIRE(r.params[1].nan == 1);
  REQUIRE(r.params[1].inf == 1);
  REQUIRE(to_string(r) == "3 NaN, 1 Inf in 0.weight (2 NaN), 2.weight (1 NaN, 1 Inf)");
  const float clean[] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  REQUIRE(describe_nonfinite(clean, l).params.empty());
}
