#include "observe/trainers_view.hpp"

#include <cmath>

#include <catch2/catch.hpp>

#include "observe/report.hpp"
#include "observe/run_summary.hpp"
#include "observe/trainer_stats.hpp"
#include "observe/watch.hpp"
#include "tests/observe/observe_test_util.hpp"

namespace {

/// A bsp run with job.balance: speed, print_freq 5: trainer-1 is slow, so the loader gives it the
/// smaller share and trainer-0 waits for it (for parameters).
const char* const balanced_run =
    R"j({"actor":"trainer-0","node":"t0","role":"trainer","step":5,"ts":10.0,"loss":1.9,"acc":0.3,"images_per_s":1900,"clock":5,"version_read":4,"staleness_bound":0,"compute_s":0.12,"wait_s":0.35,"share":32,"wait_params_s":0.33,"wait_batch_s":0.02,"wall_s":0.5,"wait_params_frac":0.66,"wait_batch_frac":0.04}
{"actor":"trainer-1","node":"t1","role":"trainer","step":5,"ts":10.1,"loss":1.9,"acc":0.3,"images_per_s":480,"clock":5,"version_read":4,"staleness_bound":0,"compute_s":0.4,"wait_s":0.03,"share":32,"wait_params_s":0.02,"wait_batch_s":0.01,"wall_s":0.5,"wait_params_frac":0.04,"wait_batch_frac":0.02}
{"actor":"aggregator","node":"agg","role":"aggregator","step":10,"ts":11.0,"loss":1.5,"acc":0.5,"images_per_s":1200,"updates_per_s":10,"lr":0.05,"version":10,"clock_lag":[0,1],"staleness_hist":{"0":20}}
{"actor":"trainer-0","node":"t0","role":"trainer","step":10,"ts":11.0,"loss":1.5,"acc":0.5,"images_per_s":2010,"clock":10,"version_read":9,"staleness_bound":0,"compute_s":0.24,"wait_s":0.1,"share":51.2,"wait_params_s":0.09,"wait_batch_s":0.01,"wall_s":0.5,"wait_params_frac":0.18,"wait_batch_frac":0.02}
{"actor":"trainer-1","node":"t1","role":"trainer","step":10,"ts":11.1,"loss":1.5,"acc":0.5,"images_per_s":502.4,"clock":10,"version_read":9,"staleness_bound":0,"compute_s":0.13,"wait_s":0.3,"share":12.8,"wait_params_s":0.2,"wait_batch_s":0.1,"wall_s":0.5,"wait_params_frac":0.4,"wait_batch_frac":0.2}
{"actor":"trainer-1","node":"t1","role":"trainer","step":10,"ts":11.2,"event":"spans","spans":[]}
)j";

std::string render(const std::vector<troupe::observe::record>& records) {
  return troupe::observe::render_trainers(records, troupe::observe::summarize(records));
}

} // namespace

TEST_CASE("watch's trainer table: share, speed and waits from each trainer's latest record (exact text)",
          "[observe][watch][trainer_metrics]") {
  const auto run = troupe::test::parse_text(balanced_run);
  REQUIRE(run.errors.empty());
  CHECK(render(run.records) ==
        "trainers, each one's latest record (SHARE: samples per clock it was given; WAIT: % of its wall time):\n"
        "NODE  RANK  CLOCK  SHARE  IMAGES/S  WAIT PARAMS  WAIT BATCH  LAG\n"
        "t0       0     10   51.2      2010          18%          2%    0\n"
        "t1       1     10   12.8       502          40%         20%    1\n");
  // The whole view ends with it.
  CHECK_THAT(troupe::observe::render_watch(run.records, 12.0),
             Catch::EndsWith("t1       1     10   12.8       502          40%         20%    1\n"));
}

TEST_CASE("watch's trainer table on one trainer, on older records and on none", "[observe][watch][trainer_metrics]") {
  SECTION("one trainer, no aggregator record yet: no lag") {
    const auto run = troupe::test::parse_text(
        R"j({"actor":"trainer-0","node":"main","role":"trainer","step":3,"ts":1.0,"loss":2.1,"acc":0.2,"images_per_s":750,"clock":3,"version_read":2,"staleness_bound":0,"compute_s":0.2,"wait_s":0.05,"share":64,"wait_params_s":0.04,"wait_batch_s":0.01,"wall_s":0.25,"wait_params_frac":0.16,"wait_batch_frac":0.04}
)j");
    REQUIRE(run.errors.empty());
    CHECK(render(run.records) ==
          "trainers, each one's latest record (SHARE: samples per clock it was given; WAIT: % of its wall time):\n"
          "NODE  RANK  CLOCK  SHARE  IMAGES/S  WAIT PARAMS  WAIT BATCH  LAG\n"
          "main     0      3   64.0       750          16%          4%    -\n");
  }
  SECTION("records of a run older than the fields show '-'") {
    const auto run = troupe::observe::read_records(troupe::test::observe_data("ssp-run/metrics"));
    const auto text = render(run.records);
    CHECK_THAT(text, Catch::Contains("NODE  RANK  CLOCK  SHARE  IMAGES/S  WAIT PARAMS  WAIT BATCH  LAG\n"));
    CHECK_THAT(text, Catch::Contains("\nt0       0    100      -"));
    CHECK_THAT(text, Catch::Contains("\nt1       1    100      -"));
    CHECK_THAT(text, Catch::EndsWith("1594            -           -    0\n"));
  }
  SECTION("an aggregator record without clock_lag (it breaks the schema, and is kept): no lag") {
    const auto run = troupe::test::parse_text(
        R"j({"actor":"aggregator","node":"agg","role":"aggregator","step":3,"ts":1.0,"loss":2.0}
{"actor":"trainer-0","node":"t0","role":"trainer","step":3,"ts":1.0,"loss":2.1,"acc":0.2,"images_per_s":750,"clock":3,"version_read":2,"staleness_bound":0,"compute_s":0.2,"wait_s":0.05}
)j");
    REQUIRE(run.records.size() == 2);
    CHECK_THAT(render(run.records),
               Catch::EndsWith("t0       0      3      -       750            -           -    -\n"));
  }
  SECTION("no trainer records: no table") {
    const auto run = troupe::test::parse_text(
        R"j({"actor":"loader","node":"l","role":"loader","step":10,"ts":1.0,"batches_sent":10,"seconds":1.0}
)j");
    CHECK(render(run.records).empty());
  }
}

TEST_CASE("trainer stats: the latest and mean share, and the waits over the wall time",
          "[observe][trainer_stats][trainer_metrics]") {
  const auto run = troupe::test::parse_text(balanced_run);
  const auto stats = troupe::observe::summarize_trainers(run.records, troupe::observe::summarize(run.records));
  REQUIRE(stats.size() == 2);
  CHECK(stats[1].share == Approx(12.8));
  CHECK(stats[1].mean_share == Approx(22.4));
  CHECK(stats[1].wait_params_ratio == Approx(0.22)); // 0.22 s of 1 s
  CHECK(stats[1].wait_batch_ratio == Approx(0.11));
  CHECK(stats[0].wait_params_ratio == Approx(0.42));

  SECTION("older records have none of them") {
    const auto old = troupe::observe::read_records(troupe::test::observe_data("ssp-run/metrics"));
    const auto s = troupe::observe::summarize_trainers(old.records, troupe::observe::summarize(old.records));
    REQUIRE(s.size() == 2);
    CHECK(std::isnan(s[0].share));
    CHECK(std::isnan(s[0].mean_share));
    CHECK(std::isnan(s[0].wait_params_ratio));
  }
}

TEST_CASE("the report has a per-trainer share, speed and idle section and a share chart",
          "[observe][report][trainer_metrics]") {
  const auto run = troupe::test::parse_text(balanced_run);
  const auto html = troupe::observe::render_report(run, "balanced");
  CHECK_THAT(html, Catch::Contains("<h2>Share, speed and idle time per trainer</h2>"));
  CHECK_THAT(html, Catch::Contains("<td>t1</td><td>trainer-1</td><td class=\"n\">12.8</td><td class=\"n\">22.4</td>"));
  CHECK_THAT(html, Catch::Contains("<td class=\"n\">22.0 %</td><td class=\"n\">11.0 %</td></tr>"));
  CHECK_THAT(html, Catch::Contains("<title>Share per trainer</title>"));

  SECTION("a run older than the fields: the section with '-', no share chart") {
    const auto old = troupe::observe::render_report(
        troupe::observe::read_records(troupe::test::observe_data("ssp-run/metrics")), "ssp-run");
    CHECK_THAT(old, Catch::Contains("<h2>Share, speed and idle time per trainer</h2>"));
    CHECK_THAT(old, Catch::Contains("<td>t0</td><td>trainer-0</td><td class=\"n\">-</td><td class=\"n\">-</td>"));
    CHECK(old.find("Share per trainer</title>") == std::string::npos);
  }
}

TEST_CASE("with backup trainers, watch's trainer table and the report show each trainer's late gradients dropped",
          "[observe][watch][report][backup]") {
  // The progress record says 0 and 3 so far; the finish event's counts (1 and 5) are the final ones.
  std::string text = balanced_run;
  text +=
      R"j({"actor":"aggregator","node":"agg","role":"aggregator","step":12,"ts":11.5,"loss":1.4,"acc":0.5,"images_per_s":1200,"updates_per_s":10,"lr":0.05,"version":12,"clock_lag":[0,1],"staleness_hist":{"0":24},"late_dropped":3,"late_by_trainer":[0,3]}
)j";
  auto run = troupe::test::parse_text(text);
  REQUIRE(run.errors.empty());
  const std::string header =
      "trainers, each one's latest record (SHARE: samples per clock it was given; WAIT: % of its wall time; LATE: its "
      "gradients dropped because their round had closed):\n"
      "NODE  RANK  CLOCK  SHARE  IMAGES/S  WAIT PARAMS  WAIT BATCH  LAG  LATE\n";
  CHECK(render(run.records) == header + "t0       0     10   51.2      2010          18%          2%    0     0\n"
                                        "t1       1     10   12.8       502          40%         20%    1     3\n");
  text +=
      R"j({"actor":"aggregator","node":"agg","role":"aggregator","step":20,"ts":12.0,"event":"finish","reason":"done","version":20,"elapsed_s":2.0,"late_dropped":6,"late_by_trainer":[1,5]}
)j";
  run = troupe::test::parse_text(text);
  REQUIRE(run.errors.empty());
  CHECK_THAT(render(run.records),
             Catch::EndsWith(" 2%    0     1\n"
                             "t1       1     10   12.8       502          40%         20%    1     5\n"));
  const auto html = troupe::observe::render_report(run, "backup");
  CHECK_THAT(html, Catch::Contains("<th>late gradients dropped</th>"));
  CHECK_THAT(html, Catch::Contains("<td class=\"n\">11.0 %</td><td class=\"n\">5</td></tr>"));
}
