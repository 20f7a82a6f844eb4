#include <catch2/catch.hpp>

#include "bandit/schedule.hpp"
#include "bandit_test_util.hpp"

using namespace troupe::bandit;
using troupe::config::admission_kind;

TEST_CASE("g(p) follows its kind and stops at max_clients", "[bandit][schedule]") {
  auto p = test::fed2({0, 1}, 1000, 10);
  SECTION("exponential 2^p: 2, 4, 8, 16") {
    CHECK(admissions(p, 1, 0) == 2);
    CHECK(admissions(p, 2, 2) == 4);
    CHECK(admissions(p, 3, 6) == 8);
    CHECK(admissions(p, 4, 14) == 16);
  }
  SECTION("base 3") {
    p.g_value = 3;
    CHECK(admissions(p, 3, 12) == 27);
  }
  SECTION("capped: M(p) never passes max_clients, then no admissions") {
    p.max_clients = 10;
    CHECK(admissions(p, 1, 0) == 2);
    CHECK(admissions(p, 2, 2) == 4);
    CHECK(admissions(p, 3, 6) == 4);
    CHECK(admissions(p, 4, 10) == 0);
    CHECK(admissions(p, 500, 3) == 7); // no overflow for huge p
  }
  SECTION("constant and linear") {
    p.g = admission_kind::constant;
    p.g_value = 3;
    CHECK(admissions(p, 1, 0) == 3);
    CHECK(admissions(p, 7, 18) == 3);
    p.g = admission_kind::linear;
    CHECK(admissions(p, 1, 0) == 3);
    CHECK(admissions(p, 4, 18) == 12);
    p.max_clients = 20;
    CHECK(admissions(p, 1000000, 18) == 2);
  }
  SECTION("fed1: all M clients in phase 1, none afterwards") {
    const auto q = test::fed1({0, 1}, 1000, 5, 10);
    CHECK(admissions(q, 1, 0) == 5);
    CHECK(admissions(q, 2, 5) == 0);
  }
}

TEST_CASE("f(p) is ⌈κ⌉ or ⌈κ ln T⌉ in every phase", "[bandit][schedule]") {
  auto p = test::fed2({0, 1}, 1000000, 100);
  CHECK(pulls_per_arm(p, 1) == 100);
  CHECK(pulls_per_arm(p, 9) == 100);
  const auto q = test::fed1({0, 1}, 1000000, 5, 10);
  CHECK(pulls_per_arm(q, 1) == 139); // ⌈10 · 13.8155⌉
  const auto r = test::fed1({0, 1}, 100, 2, 1);
  CHECK(pulls_per_arm(r, 3) == 5); // ⌈4.605⌉
}
