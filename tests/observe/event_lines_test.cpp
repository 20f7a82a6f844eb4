#include "observe/event_lines.hpp"

#include <catch2/catch.hpp>

#include "observe/schema.hpp"
#include "tests/observe/observe_test_util.hpp"

namespace {

using troupe::observe::describe_event;

/// The one record of `line` (common fields added), read as the report reads it.
troupe::observe::record record_of(const std::string& fields) {
  auto j = nlohmann::json::parse(fields);
  j.update({{"actor", "aggregator"}, {"node", "agg"}, {"role", "aggregator"}, {"step", 40}, {"ts", 1795310292.4}});
  auto run = troupe::test::parse_text(j.dump() + "\n");
  REQUIRE(run.records.size() == 1);
  return run.records[0];
}

std::string text_of(const std::string& fields) {
  const auto line = describe_event(record_of(fields));
  REQUIRE(line);
  return line->text;
}

} // namespace

TEST_CASE("each event a person reads gets one short line", "[observe][event_lines]") {
  CHECK(text_of(R"j({"event":"gradient_refused","target":"trainer-1","clock":7,"reason":"3 NaN in 2.weight (3 NaN)",
    "nan":3,"inf":0,"params":[{"name":"2.weight","nan":3,"inf":0}],"in_a_row":1})j") ==
        "refused the gradient of trainer-1 for clock 7: 3 NaN in 2.weight (3 NaN); 1 in a row");
  CHECK(text_of(R"j({"event":"membership","trainers":1,"lost":["trainer-1"],"reason":"node 't1' lost (trainer-1)",
    "clock":40})j") == "1 trainer(s) from clock 40: node 't1' lost (trainer-1); absent: trainer-1");
  CHECK(
      text_of(R"j({"event":"membership","trainers":2,"lost":[],"reason":"node 't1' back (trainer-1)","clock":52})j") ==
      "2 trainer(s) from clock 52: node 't1' back (trainer-1); none absent");
  CHECK(text_of(R"j({"event":"checkpoint","path":"c/ckpt-80.trpc","version":80,"stall_s":0.0021})j") ==
        "saved c/ckpt-80.trpc (version 80); training stalled 0.002 s");
  CHECK(text_of(R"j({"event":"finish","reason":"done","version":200,"elapsed_s":6.81})j") ==
        "job ended: done after 6.8 s, 200 updates");
  CHECK(text_of(R"j({"event":"peer_lost","target":"t1","silent_s":3.24})j") ==
        "node 't1' silent for 3.2 s: declared lost");
  CHECK(text_of(R"j({"event":"peer_back","target":"t1"})j") == "node 't1' is back");
  CHECK(text_of(R"j({"event":"recovered","target":"trainer-0","recovery_s":1.4})j") ==
        "trainer-0 trains again, 1.40 s after its failure");
  CHECK(text_of(R"j({"event":"resync","target":"trainer-0","version":61})j") ==
        "trainer-0 re-synced to clock 40 (version 61)");
  CHECK(text_of(R"j({"event":"restart","target":"trainer-1","backoff_s":0.5,"cause":"trainer-0"})j") ==
        "restarted trainer-1 after 0.50 s backoff (with trainer-0)");
  CHECK(text_of(R"j({"event":"failure","target":"trainer-0","reason":"boom","backoff_s":0.5,"strategy":"one_for_all",
    "also_restarting":["trainer-1"]})j") ==
        "trainer-0 failed: boom; restarting in 0.50 s (one_for_all), with trainer-1");
  CHECK(text_of(R"j({"event":"escalation","target":"loader","reason":"boom"})j") ==
        "loader failed too often: boom; the node gives up");
  CHECK(text_of(R"j({"event":"resume","path":"c/ckpt-80.trpc","version":80})j") ==
        "resumed from c/ckpt-80.trpc (version 80)");
  CHECK(text_of(R"j({"event":"checkpoint_skipped","reason":"bad checksum"})j") ==
        "passed over a damaged checkpoint: bad checksum");
  const auto eval = describe_event(record_of(
      R"j({"epoch":1,"test_loss":0.781,"test_acc":0.745,"test_top5":0.9885,"version":103,"elapsed_s":2.8})j"));
  REQUIRE(eval);
  CHECK(eval->kind == "evaluation");
  CHECK(eval->text == "epoch 1: test top-1 74.50 %, top-5 98.85 %, loss 0.7810 (version 103)");
}

TEST_CASE("bulk records and periodic records have no line", "[observe][event_lines]") {
  CHECK_FALSE(describe_event(record_of(R"j({"event":"spans","spans":[["compute",1.0,0.5,""]]})j")));
  CHECK_FALSE(describe_event(record_of(R"j({"event":"config","source":"a.yaml","yaml":"job: {}"})j")));
  CHECK_FALSE(describe_event(record_of(R"j({"loss":1.0,"acc":0.5,"images_per_s":10,"updates_per_s":1,"lr":0.1,
    "version":3,"clock_lag":[0],"staleness_hist":{}})j")));
}

TEST_CASE("a new event lists its scalar fields, and long lines are cut", "[observe][event_lines]") {
  const auto line = describe_event(record_of(R"j({"event":"something_new","count":3,"big":[1,2,3],"who":"t1"})j"));
  REQUIRE(line);
  CHECK(line->kind == "something_new");
  CHECK(line->text == "count = 3, who = t1");
  const auto long_reason = std::string(1000, 'x');
  const auto cut = text_of(R"j({"event":"escalation","target":"t","reason":")j" + long_reason + "\"}");
  CHECK(cut.size() == troupe::observe::max_event_line);
  CHECK_THAT(cut, Catch::EndsWith("..."));
}

TEST_CASE("every known event but spans and config has a dedicated line", "[observe][event_lines]") {
  for (const auto& event : troupe::observe::known_events()) {
    INFO("event " << event);
    const auto line = describe_event(record_of(R"j({"event":")j" + event + "\"}"));
    if (event == "spans" || event == "config") {
      CHECK_FALSE(line);
      continue;
    }
    REQUIRE(line);
    CHECK(line->kind == event);
    CHECK(line->text.find(" = ") == std::string::npos); // not the fallback listing of fields
  }
}
