#include "observe/records.hpp"

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "tests/observe/observe_test_util.hpp"

using troupe::test::parse_text;

TEST_CASE("the recorded runs read without schema errors", "[observe][records]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("ssp-run/metrics"));
  CHECK(run.files == 4);
  CHECK(run.records.size() == 39);
  CHECK(run.errors.empty());
  CHECK(run.partial_lines == 0);
  // File-name order, then line order.
  CHECK(run.records.front().file == "agg.jsonl");
  CHECK(run.records.front().line == 1);
  CHECK(run.records.back().file == "t1.jsonl");
  CHECK(run.records.back().step == 100);
  CHECK(run.records.back().number("compute_s") > 0);
}

TEST_CASE("a half-written last line is skipped while a run is live", "[observe][records]") {
  const auto live = troupe::observe::read_records(troupe::test::observe_data("live-run/metrics"));
  CHECK(live.errors.empty());
  CHECK(live.partial_lines == 1);
  CHECK(live.records.size() == 20);

  const std::string complete = R"({"actor":"a","node":"n","role":"x","step":1,"ts":1.0})";
  SECTION("an unterminated but complete record counts") {
    CHECK(parse_text(complete).records.size() == 1);
  }
  SECTION("the same garbage with a newline is an error naming file:line") {
    const auto r = parse_text(complete + "\n{\"actor\":\"a\",\"no\n" + complete + "\n", "t3.jsonl");
    CHECK(r.records.size() == 2);
    REQUIRE(r.errors.size() == 1);
    CHECK_THAT(r.errors[0].to_string(), Catch::StartsWith("t3.jsonl:2: (line): not a JSON object"));
  }
}

TEST_CASE("schema errors name file, line and field", "[observe][records]") {
  const auto r = parse_text("\n"
                            R"({"actor":"a","node":"n","role":"x","step":"7","ts":1.0})"
                            "\n"
                            R"({"actor":"loader","node":"n","role":"loader","step":7,"ts":1.0,"seconds":2})"
                            "\n",
                            "n.jsonl");
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].to_string() == "n.jsonl:2: step: expected a non-negative integer, got \"7\"");
  CHECK(r.errors[1].to_string() == "n.jsonl:3: batches_sent: missing; expected a non-negative integer");
  // Invalid common fields drop the record; invalid role fields keep it.
  REQUIRE(r.records.size() == 1);
  CHECK(r.records[0].actor == "loader");
  CHECK(r.records[0].line == 3);
}

TEST_CASE("a run directory or its metrics directory", "[observe][records]") {
  const auto run = troupe::test::observe_data("ssp-run");
  CHECK(troupe::observe::metrics_dir_of(run) == run + "/metrics");
  CHECK(troupe::observe::metrics_dir_of(run + "/metrics") == run + "/metrics");
  CHECK_THROWS_AS(troupe::observe::read_records(run + "/nothing-here"), troupe::error);
}

TEST_CASE("only *.jsonl files are read", "[observe][records]") {
  troupe::test::scratch_dir dir("observe-records");
  std::ofstream(dir.path / "a.jsonl") << R"({"actor":"a","node":"a","role":"x","step":1,"ts":1.0})" << '\n';
  std::ofstream(dir.path / "notes.txt") << "not a log\n";
  const auto r = troupe::observe::read_records(dir.path.string());
  CHECK(r.files == 1);
  CHECK(r.records.size() == 1);
}
