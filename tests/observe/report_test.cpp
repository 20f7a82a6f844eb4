#include "observe/report.hpp"
#include "observe/watch.hpp"

#include <catch2/catch.hpp>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "tests/observe/observe_test_util.hpp"

namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto i = text.find(what); i != std::string::npos; i = text.find(what, i + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("the report of a recorded run holds every plot", "[observe][report]") {
  troupe::test::scratch_dir dir("observe-report");
  const auto out = (dir.path / "report.html").string();
  troupe::observe::write_report(troupe::test::observe_data("ssp-run"), out);
  const auto html = troupe::read_file(out);
  CHECK_THAT(html, Catch::StartsWith("<!DOCTYPE html>") && Catch::EndsWith("</html>\n"));
  for (const char* title :
       {"Loss vs step", "Test accuracy vs step", "Loss vs wall time", "Test accuracy vs wall time",
        "Images/s per trainer", "Step vs wall time per actor", "Clock lag per trainer", "Staleness histogram"})
    CHECK_THAT(html, Catch::Contains(std::string("<title>") + title + "</title>"));
  CHECK(count(html, "<svg ") == 8);
  CHECK(count(html, "</svg>") == 8);
  // One line per trainer in the images/s plot; staleness 0..8 in the histogram (5 never happened: 0).
  CHECK(count(html, "class=\"series\" data-name=\"trainer-1\"") >= 2);
  CHECK(count(html, "class=\"bar\"") == 9);
  CHECK_THAT(html, Catch::Contains("<title>5: 0</title>"));
  CHECK_THAT(html, Catch::Contains("74.95%")); // final test top-1
  CHECK_THAT(html, Catch::Contains("job finished (done)"));
  CHECK(count(html, "<td>checkpoint</td>") == 3);
  // Self-contained: no scripts, nothing fetched.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));
  CHECK(html.find("https://") == std::string::npos);
  CHECK(count(html, "restart-marker") == 0);
}

TEST_CASE("restarts are marked on the time axes of the report", "[observe][report]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("live-run/metrics"));
  const auto html = troupe::observe::render_report(run, "live-run");
  // Loss and accuracy vs wall time, images/s and step vs wall time.
  CHECK(count(html, "class=\"restart-marker\"") == 4);
  CHECK_THAT(html, Catch::Contains("trainer-0 threw in clock 61: injected fault"));
  CHECK_THAT(html, Catch::Contains("job not finished"));
}

TEST_CASE("a directory without records is an error", "[observe][report]") {
  troupe::test::scratch_dir dir("observe-report-empty");
  CHECK_THROWS_AS(troupe::observe::write_report(dir.path.string(), (dir.path / "r.html").string()), troupe::error);
}

TEST_CASE("records that break the schema still make a report", "[observe][report]") {
  const auto run = troupe::test::parse_text(
      R"({"actor":"aggregator","node":"a","role":"aggregator","step":10,"ts":1.0,"loss":"high","clock_lag":{},"staleness_hist":{"x":1,"2":"y","1":3}}
{"actor":"aggregator","node":"a","role":"aggregator","step":20,"ts":2.0,"test_loss":0.5,"epoch":"one","version":[]}
{"actor":"trainer-0","node":"a","role":"trainer","step":10,"ts":1.5,"images_per_s":null}
)");
  REQUIRE(run.records.size() == 3);
  CHECK_FALSE(run.errors.empty());
  const auto html = troupe::observe::render_report(run, "broken");
  CHECK_THAT(html, Catch::Contains("Schema errors") && Catch::EndsWith("</html>\n"));
  CHECK(count(html, "class=\"bar\"") == 2); // staleness 0 (empty) and 1
  CHECK_NOTHROW(troupe::observe::render_watch(run.records, 10.0));
}
