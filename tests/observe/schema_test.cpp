#include "observe/schema.hpp"

#include <catch2/catch.hpp>

namespace {

using nlohmann::json;
using troupe::observe::field_error;
using troupe::observe::validate_record;

json trainer_record() {
  return json::parse(R"({"acc":0.34,"actor":"trainer-1","clock":10,"compute_s":0.38,"images_per_s":834.9,
    "loss":1.99,"node":"main","role":"trainer","staleness_bound":0,"step":10,"ts":1795309202.30,
    "version_read":9,"wait_s":0.77})");
}

json progress_record() {
  return json::parse(R"({"acc":0.36,"actor":"aggregator","clock_lag":[3,0],"images_per_s":531.6,"loss":1.99,
    "lr":0.048,"node":"agg","role":"aggregator","staleness_hist":{"0":13,"3":7},"step":10,"ts":1795309202.3,
    "updates_per_s":16.6,"version":23})");
}

bool names(const std::vector<field_error>& errors, const std::string& field) {
  for (const auto& e : errors)
    if (e.field == field)
      return true;
  return false;
}

} // namespace

TEST_CASE("the records the actors write satisfy the schema", "[observe][schema]") {
  CHECK(validate_record(trainer_record()).empty());
  CHECK(validate_record(progress_record()).empty());
  CHECK(validate_record(json::parse(R"({"actor":"aggregator","elapsed_s":8.9,"epoch":1,"node":"main",
    "role":"aggregator","step":100,"test_acc":0.77,"test_loss":0.59,"test_top5":0.99,"ts":1795309210.0,"version":100})"))
            .empty());
  CHECK(validate_record(json::parse(R"({"actor":"loader","batches_sent":200,"node":"main","role":"loader",
    "seconds":9.58,"step":200,"ts":1795309210.06})"))
            .empty());
  CHECK(validate_record(json::parse(R"({"actor":"supervisor","event":"restart","target":"trainer-0",
    "reason":"boom","backoff_s":0.5,"node":"t0","role":"supervisor","step":60,"ts":1795309261.8})"))
            .empty());
}

TEST_CASE("each missing or mistyped common field is named", "[observe][schema]") {
  auto r = trainer_record();
  SECTION("missing ts") {
    r.erase("ts");
    CHECK(names(validate_record(r), "ts"));
  }
  SECTION("ts as a string") {
    r["ts"] = "yesterday";
    CHECK(names(validate_record(r), "ts"));
  }
  SECTION("ts null (a NaN written by nlohmann::json) is not a time") {
    r["ts"] = nullptr;
    CHECK(names(validate_record(r), "ts"));
  }
  SECTION("node not a string") {
    r["node"] = 3;
    CHECK(names(validate_record(r), "node"));
  }
  SECTION("empty actor") {
    r["actor"] = "";
    CHECK(names(validate_record(r), "actor"));
  }
  SECTION("missing role") {
    r.erase("role");
    CHECK(names(validate_record(r), "role"));
  }
  SECTION("fractional step") {
    r["step"] = 1.5;
    CHECK(names(validate_record(r), "step"));
  }
  SECTION("negative step") {
    r["step"] = -1;
    CHECK(names(validate_record(r), "step"));
  }
  SECTION("not an object") {
    CHECK(names(validate_record(json::array({1, 2})), "(record)"));
  }
}

TEST_CASE("role-specific fields are checked by kind", "[observe][schema]") {
  SECTION("a trainer record without wait_s") {
    auto r = trainer_record();
    r.erase("wait_s");
    const auto errors = validate_record(r);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "wait_s");
    CHECK_THAT(errors[0].message, Catch::Contains("missing"));
  }
  SECTION("a string loss") {
    auto r = trainer_record();
    r["loss"] = "1.9";
    CHECK(names(validate_record(r), "loss"));
  }
  SECTION("a null loss (NaN, a diverged run) is still a valid report") {
    auto r = trainer_record();
    r["loss"] = nullptr;
    CHECK(validate_record(r).empty());
  }
  SECTION("clock_lag elements are counted one by one") {
    auto r = progress_record();
    r["clock_lag"] = json::array({0, -2});
    CHECK(names(validate_record(r), "clock_lag[1]"));
  }
  SECTION("staleness_hist keys are integers") {
    auto r = progress_record();
    r["staleness_hist"]["x"] = 3;
    CHECK(names(validate_record(r), "staleness_hist[\"x\"]"));
  }
  SECTION("an evaluation record is told apart from progress by test_loss") {
    auto r = progress_record();
    r["test_loss"] = 0.5;
    CHECK(troupe::observe::record_kind(r) == "aggregator evaluation");
    CHECK(names(validate_record(r), "epoch"));
  }
  SECTION("a supervisor record needs its event") {
    CHECK(names(
        validate_record(json::parse(R"({"actor":"supervisor","node":"t0","role":"supervisor","step":1,"ts":1.0})")),
        "event"));
  }
  SECTION("event records are checked by event, not by role") {
    const auto finish = json::parse(R"({"actor":"aggregator","elapsed_s":6.8,"event":"finish","node":"agg",
      "reason":"done","role":"aggregator","step":100,"ts":1795310294.9,"version":200})");
    CHECK(troupe::observe::record_kind(finish) == "event finish");
    CHECK(validate_record(finish).empty());
    auto no_reason = finish;
    no_reason.erase("reason");
    CHECK(names(validate_record(no_reason), "reason"));
    CHECK(names(validate_record(json::parse(R"({"actor":"aggregator","event":"checkpoint","node":"agg",
      "path":"/tmp/c.trpc","role":"aggregator","stall_s":"fast","step":38,"ts":1.0,"version":80})")),
                "stall_s"));
    CHECK(validate_record(json::parse(R"({"actor":"van","event":"something new","node":"agg","role":"transport",
      "step":0,"ts":1.0})"))
              .empty());
    CHECK(names(validate_record(json::parse(R"({"actor":"a","event":7,"node":"n","role":"trainer","step":0,
      "ts":1.0})")),
                "event"));
  }
  SECTION("an unknown role is checked for the common fields only, extra fields are allowed") {
    CHECK(validate_record(json::parse(R"({"actor":"van","node":"t0","role":"transport","step":1,"ts":1.0,
      "bytes_out":12})"))
              .empty());
    auto r = trainer_record();
    r["new_field"] = "added at the end";
    CHECK(validate_record(r).empty());
  }
}
