#include <catch2/catch.hpp>

#include <cmath>

#include "bandit/confidence.hpp"
#include "bandit/server_state.hpp"
#include "bandit_test_util.hpp"
#include "common/error.hpp"

using namespace troupe::bandit;

namespace {

/// Every client of the collecting phase uploads `means` (one per active arm).
void upload_all(server_state& s, const std::vector<float>& means) {
  for (std::uint64_t m = 0; m < s.clients(); ++m)
    s.receive(m, means.data(), means.size());
}

} // namespace

TEST_CASE("server_state plans phases: admissions, pulls, steps", "[bandit][server]") {
  auto params = test::fed2({0.1, 0.5, 0.9}, 1000, 10);
  params.sigma = 0.25;
  server_state s(params);
  phase_plan p1 = s.begin_phase();
  CHECK(p1.phase == 1);
  CHECK(p1.t_begin == 0);
  CHECK(p1.first_new == 0);
  CHECK(p1.clients == 2);
  CHECK(p1.pulls == 10);
  CHECK(p1.steps == 30);
  CHECK(p1.active == std::vector<std::size_t>{0, 1, 2});
  CHECK(p1.uploads);
  CHECK(s.time() == 30);
  CHECK_FALSE(s.complete());
  CHECK_THROWS_AS(s.begin_phase(), troupe::error); // still collecting

  // B = sqrt(6·0.0625·(2/10)/4·ln 1000) + sqrt(6·0.0004·ln 1000/2) ≈ 0.360 + 0.091 = 0.451.
  const double B = fed2_bound(eta({2}, {0, 10}), 2, 0.25, 0.02, std::log(1000.0), 6, 6);
  CHECK(B == Approx(0.451).margin(0.001));
  CHECK(s.bound() == Approx(B));
  upload_all(s, {0.0f, 0.5f, 1.0f});
  REQUIRE(s.complete());
  const phase_outcome o = s.finish_phase();
  CHECK(o.means == std::vector<double>{0.0, 0.5, 1.0});
  CHECK(o.bound == Approx(B));
  CHECK(o.eliminated == std::vector<std::size_t>{0}); // 0 + B < 1 − B, but 0.5 + B > 1 − B
  CHECK(s.active() == std::vector<std::size_t>{1, 2});
  CHECK_FALSE(s.finished());

  phase_plan p2 = s.begin_phase();
  CHECK(p2.first_new == 2);
  CHECK(p2.clients == 6);
  CHECK(p2.steps == 20);
  CHECK(p2.t_begin == 30);
  CHECK(p2.active == std::vector<std::size_t>{1, 2});
  // Clients 0-1 hold F(2) = 20 samples per arm, clients 2-5 hold 10: η = (2/20 + 4/10)/36, B ≈ 0.242.
  CHECK(s.bound() == Approx(fed2_bound((2.0 / 20 + 4.0 / 10) / 36, 6, 0.25, 0.02, std::log(1000.0), 6, 6)));
  CHECK(s.bound() == Approx(0.242).margin(0.001));
  upload_all(s, {0.0f, 1.0f});
  CHECK(s.finish_phase().eliminated == std::vector<std::size_t>{1});
  CHECK(s.finished());
  CHECK(s.active() == std::vector<std::size_t>{2});
}

TEST_CASE("server_state averages uploads in client-id order whatever the arrival order", "[bandit][server]") {
  server_state s(test::fed2({0.1, 0.9}, 1000, 10));
  s.begin_phase();
  const float a[] = {0.25f, 1.0f}, b[] = {0.75f, 0.5f};
  s.receive(1, b, 2);
  s.receive(0, a, 2);
  CHECK(s.finish_phase().means == std::vector<double>{0.5, 0.75});
}

TEST_CASE("server_state refuses bad uploads", "[bandit][server]") {
  server_state s(test::fed2({0.1, 0.9}, 1000, 10));
  const float m[] = {0.5f, 0.5f, 0.5f}, nan[] = {NAN, 0.5f};
  CHECK_THROWS_AS(s.receive(0, m, 2), troupe::error); // no phase collecting
  s.begin_phase();
  CHECK_THROWS_AS(s.receive(2, m, 2), troupe::error); // only clients 0 and 1 exist
  CHECK_THROWS_AS(s.receive(0, m, 3), troupe::error); // two active arms
  CHECK_THROWS_AS(s.receive(0, nan, 2), troupe::error);
  s.receive(0, m, 2);
  CHECK_THROWS_AS(s.receive(0, m, 2), troupe::error); // twice
  CHECK_THROWS_AS(s.finish_phase(), troupe::error);   // client 1 missing
}

TEST_CASE("a phase that reaches T does not communicate and ends the run", "[bandit][server]") {
  SECTION("cut short: the steps left") {
    server_state s(test::fed2({0.1, 0.9}, 25, 10));
    CHECK(s.begin_phase().uploads); // 20 steps, t = 20 < 25
    upload_all(s, {0.5f, 0.5f});
    s.finish_phase();
    const phase_plan p = s.begin_phase();
    CHECK(p.steps == 5);
    CHECK_FALSE(p.uploads);
    CHECK(s.finished());
    CHECK(s.time() == 25);
  }
  SECTION("ending exactly at T") {
    server_state s(test::fed2({0.1, 0.9}, 20, 10));
    const phase_plan p = s.begin_phase();
    CHECK(p.steps == 20);
    CHECK_FALSE(p.uploads);
    CHECK(s.finished());
  }
}

TEST_CASE("Fed1 server: M clients once, B_p,1 with F(p) = p·f", "[bandit][server]") {
  server_state s(test::fed1({0.1, 0.9}, 1000000, 5, 10));
  const phase_plan p1 = s.begin_phase();
  CHECK(p1.clients == 5);
  CHECK(p1.pulls == 139);
  CHECK(s.bound() == Approx(fed1_bound(5, 139, 0.5, std::log(1e6), 6)));
  upload_all(s, {0.5f, 0.5f});
  s.finish_phase();
  const phase_plan p2 = s.begin_phase();
  CHECK(p2.first_new == 5);
  CHECK(p2.clients == 5);
  CHECK(s.bound() == Approx(fed1_bound(5, 278, 0.5, std::log(1e6), 6)));
}
