#include "net/peer_table.hpp"

#include <catch2/catch.hpp>

using namespace troupe::net;
using namespace std::chrono_literals;

TEST_CASE("a peer table counts per name and holds at most its bound", "[net][peer_table]") {
  peer_table t(2);
  ++t.at("t0").messages_sent;
  t.at("t0").bytes_sent += 100;
  ++t.at("t1").messages_received;
  CHECK(t.size() == 2);
  // A third name finds the table full: counted under the unknown bucket, which is not a named entry.
  ++t.at("mallory").messages_received;
  ++t.at("eve").rejected;
  ++t.unknown().rejected;
  CHECK(t.size() == 2);
  const auto s = t.snapshot();
  REQUIRE(s.size() == 3);
  CHECK(s.at("t0").messages_sent == 1);
  CHECK(s.at("t0").bytes_sent == 100);
  CHECK(s.at("t1").messages_received == 1);
  CHECK(s.at(unknown_peer).messages_received == 1);
  CHECK(s.at(unknown_peer).rejected == 2);
  CHECK(s.count("mallory") == 0);

  SECTION("an unused unknown bucket is not reported") {
    peer_table quiet(4);
    quiet.unknown(); // touched, nothing counted
    ++quiet.at("t0").messages_sent;
    CHECK(quiet.snapshot().size() == 1);
  }
  SECTION("names are keyed printable, so a record or a label can hold them") {
    peer_table p(4);
    ++p.at(std::string("a\x01\n", 3)).rejected;
    CHECK(p.snapshot().count("a\\x01\\x0a") == 1);
    CHECK(printable_name("t1") == "t1");
  }
}

TEST_CASE("a probe's round trip is timed from start to the matching answer", "[net][peer_table]") {
  peer_table t(4);
  const auto t0 = peer_table::clock::time_point{} + 1h;
  const auto id = t.start_probe("agg", t0, 10s);
  REQUIRE(id);
  CHECK_FALSE(t.start_probe("agg", t0 + 1s, 10s));       // one outstanding at a time
  CHECK_FALSE(t.finish_probe("agg", *id + 1, t0 + 5ms)); // not the outstanding probe: ignored
  CHECK_FALSE(t.finish_probe("t1", *id, t0 + 5ms));      // another peer cannot answer it
  CHECK(t.snapshot().at("agg").rtt_samples == 0);
  CHECK(t.finish_probe("agg", *id, t0 + 40ms));
  CHECK_FALSE(t.finish_probe("agg", *id, t0 + 50ms)); // answered once only
  auto s = t.snapshot().at("agg");
  CHECK(s.rtt_samples == 1);
  CHECK(s.rtt_s == Approx(0.040));
  CHECK(s.rtt_min_s == Approx(0.040));
  CHECK(s.rtt_last_s == Approx(0.040));

  // The next sample moves the smoothed estimate by 1/8 of the difference (TCP's SRTT).
  const auto id2 = t.start_probe("agg", t0 + 1s, 10s);
  REQUIRE(id2);
  CHECK(*id2 != *id);
  CHECK(t.finish_probe("agg", *id2, t0 + 1s + 120ms));
  s = t.snapshot().at("agg");
  CHECK(s.rtt_samples == 2);
  CHECK(s.rtt_s == Approx(0.875 * 0.040 + 0.125 * 0.120));
  CHECK(s.rtt_min_s == Approx(0.040));
  CHECK(s.rtt_last_s == Approx(0.120));

  SECTION("a probe unanswered past the timeout is counted and replaced") {
    const auto lost = t.start_probe("agg", t0 + 2s, 10s);
    REQUIRE(lost);
    const auto again = t.start_probe("agg", t0 + 13s, 10s);
    REQUIRE(again);
    CHECK(t.snapshot().at("agg").probes_unanswered == 1);
    CHECK_FALSE(t.finish_probe("agg", *lost, t0 + 14s)); // the late answer to the replaced probe
    CHECK(t.finish_probe("agg", *again, t0 + 13s + 1ms));
  }
  SECTION("a peer beyond the bound, or the unknown bucket, is never probed") {
    peer_table full(1);
    ++full.at("t0").messages_sent;
    CHECK_FALSE(full.start_probe("t1", t0, 10s));
    CHECK_FALSE(full.start_probe(unknown_peer, t0, 10s));
    CHECK(full.start_probe("t0", t0, 10s));
  }
}
