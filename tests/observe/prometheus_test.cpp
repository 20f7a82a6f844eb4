#include "observe/prometheus.hpp"

#include <cmath>

#include <catch2/catch.hpp>
#include <httplib.h>

#include "common/error.hpp"

using troupe::observe::metric_kind;
using troupe::observe::registry;

TEST_CASE("the text exposition format", "[observe][prometheus]") {
  registry reg;
  reg.declare("troupe_step", metric_kind::gauge, "Step of the actor's latest record");
  reg.declare("troupe_records_total", metric_kind::counter, "Records\\reported\nper actor");
  reg.set("troupe_step", {{"node", "t0"}, {"actor", "trainer-0"}}, 60);
  reg.add("troupe_records_total", {{"node", "a\"b\\c\nd"}});
  reg.add("troupe_records_total", {{"node", "a\"b\\c\nd"}}, 2);
  reg.set("troupe_step", {}, std::nan(""));
  CHECK(reg.exposition() == "# HELP troupe_records_total Records\\\\reported\\nper actor\n"
                            "# TYPE troupe_records_total counter\n"
                            "troupe_records_total{node=\"a\\\"b\\\\c\\nd\"} 3\n"
                            "# HELP troupe_step Step of the actor's latest record\n"
                            "# TYPE troupe_step gauge\n"
                            "troupe_step NaN\n"
                            "troupe_step{actor=\"trainer-0\",node=\"t0\"} 60\n");
  CHECK(reg.value("troupe_step", {{"actor", "trainer-0"}, {"node", "t0"}}) == 60.0);
  CHECK_FALSE(reg.value("troupe_step", {{"node", "t9"}}).has_value());
}

TEST_CASE("sample values as Prometheus parses them", "[observe][prometheus]") {
  using troupe::observe::format_sample_value;
  CHECK(format_sample_value(0.1) == "0.1");
  CHECK(format_sample_value(1e21) == "1e+21");
  CHECK(format_sample_value(-3) == "-3");
  CHECK(format_sample_value(INFINITY) == "+Inf");
  CHECK(format_sample_value(-INFINITY) == "-Inf");
}

TEST_CASE("misuse of the registry is refused", "[observe][prometheus]") {
  registry reg;
  CHECK_THROWS_AS(reg.declare("9lives", metric_kind::gauge, ""), troupe::error);
  CHECK_THROWS_AS(reg.declare("a-b", metric_kind::gauge, ""), troupe::error);
  reg.declare("c_total", metric_kind::counter, "a counter");
  reg.declare("c_total", metric_kind::counter, "a counter"); // idempotent
  CHECK_THROWS_AS(reg.declare("c_total", metric_kind::gauge, ""), troupe::error);
  CHECK_THROWS_AS(reg.add("c_total", {}, -1), troupe::error);
  CHECK_THROWS_AS(reg.add("undeclared", {}), troupe::error);
  CHECK_THROWS_AS(reg.add("c_total", {{"__reserved", "x"}}), troupe::error);
  CHECK_THROWS_AS(reg.add("c_total", {{"bad-label", "x"}}), troupe::error);
}

TEST_CASE("the exporter serves /metrics on an ephemeral port", "[observe][prometheus]") {
  registry reg;
  reg.declare("troupe_aggregator_version", metric_kind::gauge, "Parameter version");
  reg.set("troupe_aggregator_version", {{"node", "agg"}}, 200);
  troupe::observe::prometheus_exporter exporter(reg);
  REQUIRE(exporter.port() > 0);

  httplib::Client client("127.0.0.1", exporter.port());
  auto res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_THAT(res->get_header_value("Content-Type"), Catch::StartsWith("text/plain; version=0.0.4"));
  CHECK_THAT(res->body, Catch::Contains("# TYPE troupe_aggregator_version gauge\n"
                                        "troupe_aggregator_version{node=\"agg\"} 200\n"));
  // Later updates show in the next scrape; other paths are not found.
  reg.set("troupe_aggregator_version", {{"node", "agg"}}, 201);
  res = client.Get("/metrics");
  REQUIRE(res);
  CHECK_THAT(res->body, Catch::Contains("{node=\"agg\"} 201\n"));
  res = client.Get("/");
  REQUIRE(res);
  CHECK(res->status == 404);

  SECTION("a taken port is a clean error") {
    CHECK_THROWS_AS(troupe::observe::prometheus_exporter(reg, "127.0.0.1", exporter.port()), troupe::error);
  }
  SECTION("stop is prompt and idempotent; the port is then closed") {
    exporter.stop();
    exporter.stop();
    httplib::Client after("127.0.0.1", exporter.port());
    CHECK_FALSE(after.Get("/metrics"));
  }
}

TEST_CASE("an exporter started and stopped at once does not hang", "[observe][prometheus]") {
  registry reg;
  for (int i = 0; i < 20; ++i) {
    troupe::observe::prometheus_exporter exporter(reg);
    CHECK(exporter.port() > 0);
  }
}
