#include "observe/record_feed.hpp"

#include <catch2/catch.hpp>

#include "tests/observe/observe_test_util.hpp"

TEST_CASE("a recorded run fed into the registry", "[observe][record_feed]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("ssp-run/metrics"));
  troupe::observe::registry reg;
  for (const auto& r : run.records)
    troupe::observe::feed_record(reg, r.fields);

  CHECK(reg.value("troupe_records_total", {{"node", "t1"}, {"actor", "trainer-1"}, {"role", "trainer"}}) == 10.0);
  CHECK(reg.value("troupe_trainer_clock", {{"node", "t1"}, {"actor", "trainer-1"}}) == 100.0);
  CHECK(reg.value("troupe_aggregator_version", {{"node", "agg"}}) == 200.0);
  CHECK(reg.value("troupe_aggregator_clock_lag", {{"node", "agg"}, {"trainer", "trainer-0"}}) == 0.0);
  CHECK(reg.value("troupe_aggregator_staleness_updates_total", {{"node", "agg"}, {"staleness", "3"}}) == 72.0);
  CHECK(reg.value("troupe_eval_test_accuracy", {{"node", "agg"}}) == Approx(0.7495));
  CHECK(reg.value("troupe_events_total", {{"node", "agg"}, {"actor", "aggregator"}, {"event", "checkpoint"}}) == 3.0);
  CHECK(reg.value("troupe_checkpoint_stall_seconds", {{"node", "agg"}, {"actor", "aggregator"}}) ==
        Approx(0.002635601));
  CHECK(reg.value("troupe_loader_batches_sent_total", {{"node", "loader"}, {"actor", "loader"}}) == 200.0);
  // compute_s is per interval: the counter is their sum.
  double compute = 0;
  for (const auto& r : run.records)
    if (r.actor == "trainer-0")
      compute += r.number("compute_s");
  CHECK(reg.value("troupe_trainer_compute_seconds_total", {{"node", "t0"}, {"actor", "trainer-0"}}) == Approx(compute));
  const auto text = reg.exposition();
  CHECK_THAT(text, Catch::Contains("# TYPE troupe_trainer_loss gauge\n"));
}

TEST_CASE("supervisor restarts and null figures", "[observe][record_feed]") {
  troupe::observe::registry reg;
  troupe::observe::feed_record(reg, nlohmann::json::parse(R"({"actor":"supervisor","event":"restart",
    "target":"trainer-0","node":"t0","role":"supervisor","step":60,"ts":1795309261.8})"));
  CHECK(reg.value("troupe_restarts_total", {{"node", "t0"}, {"actor", "trainer-0"}}) == 1.0);
  CHECK(reg.value("troupe_events_total", {{"node", "t0"}, {"actor", "supervisor"}, {"event", "restart"}}) == 1.0);

  troupe::observe::feed_record(reg, nlohmann::json::parse(R"({"acc":0.1,"actor":"trainer-0","clock":3,
    "compute_s":null,"images_per_s":10,"loss":null,"node":"t0","role":"trainer","staleness_bound":0,"step":3,
    "ts":1.0,"version_read":2,"wait_s":0.5})"));
  CHECK(std::isnan(*reg.value("troupe_trainer_loss", {{"node", "t0"}, {"actor", "trainer-0"}})));
  CHECK_FALSE(reg.value("troupe_trainer_compute_seconds_total", {{"node", "t0"}, {"actor", "trainer-0"}}));
  CHECK_THAT(reg.exposition(), Catch::Contains("troupe_trainer_loss{actor=\"trainer-0\",node=\"t0\"} NaN\n"));

  // Records with broken common fields are ignored.
  troupe::observe::feed_record(reg, nlohmann::json::parse(R"({"actor":"x"})"));
  CHECK_FALSE(reg.value("troupe_records_total", {{"actor", "x"}}));
}

TEST_CASE("transport records export per-peer metrics with a peer label, and queue depths per actor",
          "[observe][record_feed][peers]") {
  const auto run = troupe::observe::read_records(troupe::test::observe_data("peers-run/metrics"));
  REQUIRE(run.errors.empty());
  troupe::observe::registry reg;
  for (const auto& r : run.records)
    troupe::observe::feed_record(reg, r.fields);
  using troupe::observe::label_set;
  const label_set agg_t1{{"node", "agg"}, {"peer", "t1"}}, agg_t0{{"node", "agg"}, {"peer", "t0"}};
  // The latest record wins: gauges take its figures, counters mirror its cumulative ones.
  CHECK(reg.value("troupe_peer_rtt_seconds", agg_t1) == Approx(0.2154));
  CHECK(reg.value("troupe_peer_rtt_seconds", agg_t0) == Approx(0.00071));
  CHECK(reg.value("troupe_peer_rtt_min_seconds", agg_t1) == Approx(0.2031));
  CHECK(reg.value("troupe_peer_bytes_sent_total", agg_t1) == 17580000.0);
  CHECK(reg.value("troupe_peer_messages_received_total", agg_t1) == 126.0);
  CHECK(reg.value("troupe_peer_probes_unanswered_total", agg_t1) == 1.0);
  CHECK(reg.value("troupe_peer_rejected_total", {{"node", "agg"}, {"peer", "(unknown)"}}) == 2.0);
  // A link not measured yet has no round-trip sample rather than a 0.
  CHECK_FALSE(reg.value("troupe_peer_rtt_seconds", {{"node", "agg"}, {"peer", "(unknown)"}}).has_value());
  CHECK(reg.value("troupe_mailbox_depth_max", {{"node", "agg"}, {"actor", "aggregator"}}) == 6.0);
  CHECK(reg.value("troupe_prefetch_depth", {{"node", "t0"}, {"actor", "trainer-0"}}) == 4.0);
  const auto text = reg.exposition();
  CHECK_THAT(text, Catch::Contains("# TYPE troupe_peer_rtt_seconds gauge\n") &&
                       Catch::Contains("troupe_peer_rtt_seconds{node=\"t1\",peer=\"agg\"} 0.2166\n") &&
                       Catch::Contains("# TYPE troupe_peer_bytes_sent_total counter\n") &&
                       Catch::Contains("troupe_mailbox_depth{actor=\"trainer-1\",node=\"t1\"} 2\n"));
}

TEST_CASE("a trainer's share, speed and idle split become gauges labelled by trainer",
          "[observe][record_feed][trainer_metrics]") {
  troupe::observe::registry reg;
  troupe::observe::feed_record(reg, nlohmann::json::parse(R"({"acc":0.3,"actor":"trainer-1","clock":9,
    "compute_s":0.4,"images_per_s":320,"loss":1.9,"node":"t1","role":"trainer","staleness_bound":0,"step":9,
    "ts":1.0,"version_read":8,"wait_s":0.1,"share":12.8,"wait_params_s":0.02,"wait_batch_s":0.08,"wall_s":0.5,
    "wait_params_frac":0.04,"wait_batch_frac":0.16})"));
  const troupe::observe::label_set t1{{"node", "t1"}, {"trainer", "trainer-1"}};
  CHECK(reg.value("troupe_trainer_share", t1) == Approx(12.8));
  CHECK(reg.value("troupe_trainer_speed_samples_per_second", t1) == Approx(320));
  CHECK(reg.value("troupe_trainer_idle_ratio", {{"node", "t1"}, {"trainer", "trainer-1"}, {"what", "params"}}) ==
        Approx(0.04));
  CHECK(reg.value("troupe_trainer_idle_ratio", {{"node", "t1"}, {"trainer", "trainer-1"}, {"what", "batch"}}) ==
        Approx(0.16));
  CHECK_THAT(reg.exposition(),
             Catch::Contains("# TYPE troupe_trainer_idle_ratio gauge\n") &&
                 Catch::Contains("troupe_trainer_idle_ratio{node=\"t1\",trainer=\"trainer-1\",what=\"batch\"} 0.16\n"));

  SECTION("a record of an older run sets the speed only") {
    troupe::observe::registry old;
    troupe::observe::feed_record(old, nlohmann::json::parse(R"({"acc":0.3,"actor":"trainer-0","clock":9,
      "compute_s":0.4,"images_per_s":500,"loss":1.9,"node":"t0","role":"trainer","staleness_bound":0,"step":9,
      "ts":1.0,"version_read":8,"wait_s":0.1})"));
    const troupe::observe::label_set t0{{"node", "t0"}, {"trainer", "trainer-0"}};
    CHECK(old.value("troupe_trainer_speed_samples_per_second", t0) == Approx(500));
    CHECK_FALSE(old.value("troupe_trainer_share", t0).has_value());
    CHECK_FALSE(old.value("troupe_trainer_idle_ratio", {{"node", "t0"}, {"trainer", "trainer-0"}, {"what", "params"}})
                    .has_value());
  }
}
