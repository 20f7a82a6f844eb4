#include "observe/trainer_stats.hpp"

#include <cmath>

#include <catch2/catch.hpp>

#include "tests/observe/observe_test_util.hpp"

using troupe::observe::summarize;
using troupe::observe::summarize_trainers;

TEST_CASE("per-trainer figures add up the trainers' records", "[observe][trainer_stats]") {
  // trainer-0: 2 records, 100 images in 0.1 s of compute + 200 in 0.1 s; waits 0.2 s in all.
  // trainer-1 reports clock 10 when trainer-0 is at 20, then 20 at 30.
  const auto run = troupe::test::parse_text(
      R"j({"actor":"trainer-0","node":"a","role":"trainer","step":10,"ts":1.0,"loss":1,"acc":0,"images_per_s":1000,"clock":10,"version_read":9,"staleness_bound":3,"compute_s":0.1,"wait_s":0.1}
{"actor":"trainer-0","node":"a","role":"trainer","step":20,"ts":2.0,"loss":1,"acc":0,"images_per_s":2000,"clock":20,"version_read":19,"staleness_bound":3,"compute_s":0.1,"wait_s":0.1}
{"actor":"trainer-0","node":"a","role":"trainer","step":30,"ts":3.0,"loss":1,"acc":0,"images_per_s":null,"clock":30,"version_read":29,"staleness_bound":3,"compute_s":0,"wait_s":0}
{"actor":"trainer-0","node":"a","role":"trainer","step":30,"ts":3.0,"event":"spans","spans":[]}
)j",
      "a.jsonl");
  auto t1 = troupe::test::parse_text(
      R"j({"actor":"trainer-1","node":"b","role":"trainer","step":10,"ts":2.5,"loss":1,"acc":0,"images_per_s":500,"clock":10,"version_read":9,"staleness_bound":3,"compute_s":0.4,"wait_s":0}
{"actor":"trainer-1","node":"b","role":"trainer","step":20,"ts":3.5,"loss":1,"acc":0,"images_per_s":500,"clock":20,"version_read":19,"staleness_bound":3,"compute_s":0.4,"wait_s":0}
)j",
      "b.jsonl");
  auto records = run.records;
  records.insert(records.end(), t1.records.begin(), t1.records.end());
  const auto stats = summarize_trainers(records, summarize(records));
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].actor == "trainer-0");
  CHECK(stats[0].node == "a");
  CHECK(stats[0].records == 3); // the spans record is not counted
  CHECK(stats[0].clock == 30);
  CHECK(stats[0].images_per_s == Approx(1500)); // 300 images in 0.2 s
  CHECK(stats[0].wait_share == Approx(0.5));
  CHECK(stats[0].max_lag == 0);
  CHECK(stats[1].images_per_s == Approx(500));
  CHECK(stats[1].wait_share == Approx(0.0));
  // Samples for trainer-1: at 2.5 (10 behind 20), at 3.0 (20 behind 30), at 3.5 (10 behind 30).
  CHECK(stats[1].mean_lag == Approx(40.0 / 3));
  CHECK(stats[1].max_lag == 20);
}

TEST_CASE("the recorded ssp run: the slowed trainer lags, the other waits", "[observe][trainer_stats]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("ssp-run/metrics"));
  const auto stats = summarize_trainers(run.records, summarize(run.records));
  REQUIRE(stats.size() == 2);
  CHECK(stats[1].actor == "trainer-1");
  CHECK(stats[1].mean_lag > stats[0].mean_lag);
  CHECK(stats[0].wait_share > stats[1].wait_share);
  CHECK(stats[0].restarts == 0);
}

TEST_CASE("a supervised restart counts for its trainer", "[observe][trainer_stats]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("live-run/metrics"));
  const auto stats = summarize_trainers(run.records, summarize(run.records));
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].actor == "trainer-0");
  CHECK(stats[0].restarts == 1);
  CHECK(stats[1].restarts == 0);
}
