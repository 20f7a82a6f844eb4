#include "observe/run_summary.hpp"

#include <catch2/catch.hpp>

#include "tests/observe/observe_test_util.hpp"

using troupe::test::parse_text;

TEST_CASE("a finished run: every actor finished, nobody restarted", "[observe][run_summary]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("ssp-run/metrics"));
  const auto s = troupe::observe::summarize(run.records);
  REQUIRE(s.actors.size() == 4);
  CHECK(s.actors[0].actor == "aggregator");
  CHECK(s.actors[1].actor == "loader");
  CHECK(s.finished_ts.has_value());
  CHECK(s.finish_reason == "done");
  REQUIRE(s.last_checkpoint != nullptr);
  CHECK(s.last_checkpoint->fields["version"] == 200);
  for (const auto& a : s.actors) {
    CHECK(a.finished);
    CHECK(a.restarts == 0);
  }
  CHECK(s.restarts.empty());
  REQUIRE(s.last_evaluation != nullptr);
  CHECK(s.last_evaluation->number("test_acc") == Approx(0.7495));
  REQUIRE(s.last_aggregator_progress != nullptr);
  CHECK(s.last_aggregator_progress->step == 100);
  // trainer-1 was slowed down: the others wait for it, it does not wait.
  CHECK(s.actors[3].actor == "trainer-1");
  CHECK(s.actors[3].wait_share < 0.01);
  CHECK(s.actors[2].wait_share > 0.3);
}

TEST_CASE("restarts come from supervisor records, else from the step going backwards", "[observe][run_summary]") {
  SECTION("supervisor record") {
    const auto run = troupe::observe::read_records(troupe::test::observe_data("live-run/metrics"));
    const auto s = troupe::observe::summarize(run.records);
    CHECK_FALSE(s.finished_ts.has_value());
    REQUIRE(s.restarts.size() == 1); // the step going back 60 -> 50 is the same restart
    CHECK(s.restarts[0].node == "t0");
    CHECK(s.restarts[0].actor == "trainer-0");
    CHECK(s.restarts[0].reason == "trainer-0 threw in clock 61: injected fault");
  }
  SECTION("step going backwards") {
    const auto run = parse_text(R"({"actor":"trainer-0","node":"n","role":"trainer","step":20,"ts":1.0}
{"actor":"trainer-0","node":"n","role":"trainer","step":30,"ts":2.0}
{"actor":"trainer-0","node":"n","role":"trainer","step":10,"ts":3.0}
)");
    const auto s = troupe::observe::summarize(run.records);
    REQUIRE(s.restarts.size() == 1);
    CHECK(s.restarts[0].ts == 3.0);
    CHECK(s.restarts[0].reason == "step 30 -> 10");
    CHECK(s.actors[0].restarts == 1);
    CHECK(s.actors[0].step == 10);
  }
}

TEST_CASE("actor names sort naturally", "[observe][run_summary]") {
  using troupe::observe::natural_less;
  CHECK(natural_less("trainer-2", "trainer-10"));
  CHECK_FALSE(natural_less("trainer-10", "trainer-2"));
  CHECK(natural_less("t1", "t1a"));
  CHECK_FALSE(natural_less("a", "a"));
  CHECK(troupe::observe::trainer_rank("trainer-12") == std::optional<std::size_t>(12));
  CHECK_FALSE(troupe::observe::trainer_rank("trainer-").has_value());
  CHECK_FALSE(troupe::observe::trainer_rank("loader").has_value());
}
