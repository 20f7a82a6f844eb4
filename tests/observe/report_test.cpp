#include "observe/report.hpp"
#include "observe/watch.hpp"

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>

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

/// Copies the recorded ssp-run into `dir`, adding after each periodic record the `spans` record its
/// actor writes with it (docs/metrics.md): a trainer's wait_batch, wait_params, compute and push spans
/// for each of 10 · `per_clock` clocks, the aggregator's apply and the loader's serve spans. Returns
/// how many bytes of spans records were added.
std::size_t copy_with_spans(const std::filesystem::path& dir, std::size_t per_clock) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::size_t bytes = 0;
  for (const auto& file : fs::directory_iterator(troupe::test::observe_data("ssp-run/metrics"))) {
    std::ifstream in(file.path());
    std::ofstream out(dir / file.path().filename());
    for (std::string line; std::getline(in, line);) {
      out << line << '\n';
      const auto r = nlohmann::json::parse(line);
      const auto role = r.value("role", "");
      if (r.contains("event") || r.contains("test_loss") ||
          (role != "trainer" && role != "aggregator" && role != "loader"))
        continue;
      nlohmann::json spans = nlohmann::json::array();
      for (std::size_t i = 0; i < 10 * per_clock; ++i) {
        const double at = r["ts"].get<double>() - 1.0 + 0.001 * static_cast<double>(i);
        const auto id = fmt::format("{}/{}", r["actor"].get<std::string>(), i);
        if (role == "trainer")
          for (const char* name : {"wait_batch", "wait_params", "compute", "push"})
            spans.push_back({name, at, 0.00025, id});
        else
          spans.push_back({role == "loader" ? "serve" : "apply", at, 0.0004, id});
      }
      auto rec = r;
      for (const auto& [k, v] : r.items())
        if (k != "ts" && k != "node" && k != "actor" && k != "role" && k != "step")
          rec.erase(k);
      rec["event"] = "spans";
      rec["spans"] = spans;
      const auto text = rec.dump() + "\n";
      bytes += text.size();
      out << text;
    }
  }
  return bytes;
}

} // namespace

TEST_CASE("the report of a run with spans stays small and lists no span", "[observe][report]") {
  troupe::test::scratch_dir dir("observe-report-spans");
  const auto metrics = dir.path / "metrics";
  const auto spans_bytes = copy_with_spans(metrics, 50);
  REQUIRE(spans_bytes > 2'000'000); // a run of ~5000 clocks: the size of the default run's spans
  const auto out = (dir.path / "report.html").string();
  troupe::observe::write_report(dir.path.string(), out);
  const auto html = troupe::read_file(out);
  const auto plain = troupe::observe::render_report(
      troupe::observe::read_records(troupe::test::observe_data("ssp-run/metrics")), "ssp-run");
  INFO("report of ssp-run: " << plain.size() << " bytes; with " << spans_bytes << " bytes of spans: " << html.size()
                             << " bytes");
  CHECK(html.size() < 150'000);
  CHECK(html.size() < plain.size() + 2'000); // the spans add nothing but the record count
  for (const char* leak : {"\"spans\"", "&quot;spans&quot;", "<td>spans</td>", "spans =", "wait_batch", "[["})
    CHECK(html.find(leak) == std::string::npos);
  for (const char* section : {"<h2>Plots</h2>", "<h2>Trainers</h2>", "<h2>Events</h2>", "<h2>Configuration</h2>"})
    CHECK(count(html, section) == 1);
}

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
  CHECK(count(html, "<td>evaluation</td>") == 4);
  CHECK_THAT(html, Catch::Contains("8 in all: 3 checkpoint, 4 evaluation, 1 finish"));
  // The per-trainer table: trainer-1 (slowed 3x) trails trainer-0, which waits for it.
  CHECK_THAT(html, Catch::Contains("<h2>Trainers</h2>"));
  CHECK_THAT(html, Catch::Contains("<td>t1</td><td>trainer-1</td><td class=\"n\">10</td><td class=\"n\">100</td>"));
  CHECK_THAT(html, Catch::Contains("<td class=\"n\">74.0 %</td>")); // trainer-0's wait share
  CHECK_THAT(html, Catch::Contains("Not in the records (no <code>config</code> event)"));
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

TEST_CASE("the events table stays short however many events there are", "[observe][report]") {
  std::string text;
  for (int i = 0; i < 500; ++i)
    text +=
        fmt::format(
            R"j({{"actor":"aggregator","node":"agg","role":"aggregator","step":{0},"ts":{1},"event":"gradient_refused","target":"trainer-1","clock":{0},"reason":"1 NaN in 0.bias (1 NaN)","nan":1,"inf":0,"params":[{{"name":"0.bias","nan":1,"inf":0}}],"in_a_row":1}})j",
            i, 1.0 + i) +
        "\n";
  text +=
      R"j({"actor":"aggregator","node":"agg","role":"aggregator","step":500,"ts":600.0,"event":"finish","reason":"stopped","version":0,"elapsed_s":599.0})j"
      "\n";
  const auto html = troupe::observe::render_report(troupe::test::parse_text(text), "refusals");
  CHECK_THAT(html, Catch::Contains("501 in all: 1 finish, 500 gradient_refused"));
  CHECK(count(html, "<td class=\"bad\">gradient_refused</td>") == 59);
  CHECK(count(html, "<td>finish</td>") == 1); // the last event is always shown
  CHECK_THAT(html, Catch::Contains("... 441 more events left out"));
  CHECK(html.find("params") == std::string::npos);
  CHECK(html.size() < 60'000);
}

TEST_CASE("the report shows the configuration the run recorded", "[observe][report]") {
  const auto run = troupe::test::parse_text(
      R"j({"actor":"aggregator","node":"agg","role":"aggregator","step":0,"ts":1.0,"event":"config","source":"examples/fmnist-local.yaml","yaml":"cluster:\n  id: fmnist-local # <b>\njob:\n  epochs: 1\n","overrides":["job.epochs=1"]}
{"actor":"aggregator","node":"agg","role":"aggregator","step":0,"ts":1.5,"elapsed_s":0.5,"epoch":0,"test_acc":0.1,"test_loss":2.3,"test_top5":0.5,"version":0}
)j");
  REQUIRE(run.errors.empty());
  const auto html = troupe::observe::render_report(run, "with-config");
  CHECK_THAT(html, Catch::Contains("<h2>Configuration</h2>"));
  CHECK_THAT(html, Catch::Contains("examples/fmnist-local.yaml --set job.epochs=1"));
  CHECK_THAT(html, Catch::Contains("<pre>cluster:\n  id: fmnist-local # &lt;b&gt;\njob:\n  epochs: 1\n</pre>"));
  CHECK(count(html, "<td>config</td>") == 0); // shown whole, not as an event
}
