#include "observe/peers_view.hpp"
#include "observe/watch.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "common/atomic_file.hpp"
#include "tests/observe/observe_test_util.hpp"

namespace {

/// Compares with the golden file; TROUPE_UPDATE_GOLDEN=1 rewrites it instead (then review the diff).
void check_golden(const std::string& text, const std::string& golden) {
  const auto path = troupe::test::observe_data(golden);
  if (std::getenv("TROUPE_UPDATE_GOLDEN") != nullptr)
    troupe::write_file_atomic(path, text);
  CHECK(text == troupe::read_file(path));
}

} // namespace

TEST_CASE("watch view of a finished run (golden text)", "[observe][watch]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("ssp-run/metrics"));
  // Viewed a minute after the run; every actor finished, trainer-1 (slowed 3x) is the slowest.
  const auto text = troupe::observe::render_watch(run.records, 1795310355.0);
  check_golden(text, "ssp-run.watch.txt");
  CHECK_THAT(text, Catch::Contains("trainer-1") && Catch::Contains("< slowest"));
}

TEST_CASE("watch view of a live run: running, stale, restarted (golden text)", "[observe][watch]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("live-run/metrics"));
  const auto text = troupe::observe::render_watch(run.records, troupe::test::live_run_now);
  check_golden(text, "live-run.watch.txt");
  CHECK_THAT(text, Catch::Contains("restarted") && Catch::Contains("stale") && Catch::Contains("running"));
}

TEST_CASE("watch colours the slowest trainer and restarts only when asked", "[observe][watch]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("live-run/metrics"));
  troupe::observe::watch_style style;
  CHECK(troupe::observe::render_watch(run.records, troupe::test::live_run_now, style).find('\x1b') ==
        std::string::npos);
  style.color = true;
  const auto text = troupe::observe::render_watch(run.records, troupe::test::live_run_now, style);
  CHECK_THAT(text, Catch::Contains("\x1b[31mt0  ") && Catch::Contains("\x1b[33mt1  "));
}

TEST_CASE("watch --once prints one view, or an error for a missing directory", "[observe][watch]") {
  troupe::observe::watch_options o;
  o.once = true;
  std::ostringstream out;
  SECTION("a run directory") {
    o.dir = troupe::test::observe_data("ssp-run");
    CHECK(troupe::observe::run_watch(o, out, nullptr) == 0);
    CHECK_THAT(out.str(), Catch::Contains("4 actors on 4 nodes") && Catch::Contains("job finished"));
    CHECK(out.str().find("\x1b[2J") == std::string::npos);
  }
  SECTION("missing") {
    o.dir = troupe::test::observe_data("no-such-run");
    CHECK(troupe::observe::run_watch(o, out, nullptr) == 1);
    CHECK_THAT(out.str(), Catch::Contains("not a metrics directory"));
  }
}

TEST_CASE("the live view clears the screen and stops when asked", "[observe][watch]") {
  troupe::observe::watch_options o;
  o.dir = troupe::test::observe_data("live-run");
  o.interval_s = 60;
  const std::atomic<bool> stop{true}; // already requested: one refresh, then return
  std::ostringstream out;
  CHECK(troupe::observe::run_watch(o, out, &stop) == 0);
  CHECK_THAT(out.str(), Catch::StartsWith("\x1b[H\x1b[2J") && Catch::Contains("job running"));
}

TEST_CASE("watch --peers: one row per link from each node's latest transport record (golden text)",
          "[observe][watch][peers]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("peers-run/metrics"));
  REQUIRE(run.errors.empty());
  const auto text = troupe::observe::render_peers(run.records, 1795320035.0);
  check_golden(text, "peers-run.peers.txt");
  // Every link of t1 (both directions) is marked slow, no other; the summary names t1.
  for (const char* link : {"agg   t1 ", "t0    t1 ", "t1    agg ", "t1    loader ", "t1    t0 "}) {
    const auto row = text.find(std::string("\n") + link);
    REQUIRE(row != std::string::npos);
    CHECK(text.substr(row + 1, text.find('\n', row + 1) - row - 1).find("< slow") != std::string::npos);
  }
  std::size_t marks = 0;
  for (auto at = text.find("< slow"); at != std::string::npos; at = text.find("< slow", at + 1))
    ++marks;
  CHECK(marks == 5);
  CHECK_THAT(text, Catch::Contains("every slow link (5) has t1 at one end"));
  // agg's first record is superseded by its latest; the queues follow the links.
  CHECK(text.find("17.6MB") != std::string::npos);
  CHECK(text.find("5.2MB") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("(unknown)") && Catch::Contains("mailbox") && Catch::Contains("prefetch"));

  SECTION("colour marks the slow links only when asked") {
    troupe::observe::watch_style style;
    style.color = true;
    CHECK_THAT(troupe::observe::render_peers(run.records, 1795320035.0, style),
               Catch::Contains("\x1b[33magg   t1") && Catch::Contains("\x1b[33mt1    t0"));
  }
  SECTION("records without per-peer figures say so") {
    const auto old = troupe::observe::read_records(troupe::test::observe_data("ssp-run/metrics"));
    CHECK_THAT(troupe::observe::render_peers(old.records, 1795310355.0), Catch::StartsWith("troupe watch --peers: no"));
  }
}

TEST_CASE("watch --once --peers prints the per-peer view", "[observe][watch][peers]") {
  troupe::observe::watch_options o;
  o.dir = troupe::test::observe_data("peers-run");
  o.once = true;
  o.peers = true;
  std::ostringstream out;
  CHECK(troupe::observe::run_watch(o, out, nullptr) == 0);
  CHECK_THAT(out.str(), Catch::Contains("NODE  PEER") && Catch::Contains("(3 files)"));
}
