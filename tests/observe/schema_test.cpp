#include "observe/schema.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include <catch2/catch.hpp>

#include "tests/support/test_env.hpp"

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

/// A record of event `event` with the common fields and `fields` (a JSON object text).
json event_record(const std::string& event, const std::string& fields) {
  auto r = json::parse(fields);
  r.update({{"actor", "aggregator"},
            {"node", "agg"},
            {"role", "aggregator"},
            {"step", 7},
            {"ts", 1795310291.02},
            {"event", event}});
  return r;
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

TEST_CASE("a trainer's share, speed and idle split are checked, and optional for older logs",
          "[observe][schema][trainer_metrics]") {
  auto r = trainer_record();
  r.update(json::parse(R"({"share":51.2,"wait_params_s":0.61,"wait_batch_s":0.16,"wall_s":1.2,
    "wait_params_frac":0.508,"wait_batch_frac":0.133})"));
  CHECK(validate_record(r).empty());
  CHECK(validate_record(trainer_record()).empty()); // a record of an older run has none of them
  for (const char* field :
       {"share", "wait_params_s", "wait_batch_s", "wall_s", "wait_params_frac", "wait_batch_frac"}) {
    CAPTURE(field);
    auto bad = r;
    bad[field] = "0.5";
    const auto errors = validate_record(bad);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == field);
    CHECK_THAT(errors[0].message, Catch::Contains("expected a number"));
  }
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
    CHECK(validate_record(json::parse(R"({"actor":"van","node":"t0","role":"relay","step":1,"ts":1.0,
      "bytes_out":12})"))
              .empty());
    auto r = trainer_record();
    r["new_field"] = "added at the end";
    CHECK(validate_record(r).empty());
  }
}

namespace {

/// One valid record per event the runtime writes, as the writers in actors/ and bandit/ produce them.
const std::map<std::string, std::string> event_examples = {
    {"finish", R"j({"reason":"done","version":200,"elapsed_s":6.8})j"},
    {"refused", R"j({"target":"trainer-0","from":"loader","reason":"unauthorized"})j"},
    {"write_failed", R"j({"path":"runs/x/checkpoints","error":"No space left on device","policy":"continue"})j"},
    {"checkpoint", R"j({"path":"runs/x/checkpoints/ckpt-000000000080.trpc","version":80,"stall_s":0.002})j"},
    {"checkpoint_skipped", R"j({"reason":"ckpt-80.trpc: bad checksum"})j"},
    {"resume", R"j({"path":"runs/x/checkpoints/ckpt-000000000080.trpc","version":80})j"},
    {"gradient_refused", R"j({"target":"trainer-1","clock":7,"reason":"3 NaN in 2.weight (3 NaN)","nan":3,"inf":0,
        "params":[{"name":"2.weight","nan":3,"inf":0}],"in_a_row":1})j"},
    {"membership", R"j({"trainers":1,"lost":["trainer-1"],"reason":"node 't1' lost (trainer-1)","clock":40})j"},
    {"node_exit",
     R"j({"exit_code":1,"outcome":"failed","reason":"node 'main': aggregator failed more than 3 times within 60 s; giving up (last failure: truncated IDX data)"})j"},
    {"balance", R"j({"from_clock":10,"shares":[48,16],"samples_per_s":[2871.5,957.2]})j"},
    {"peer_lost", R"j({"target":"t1","silent_s":3.2})j"},
    {"peer_back", R"j({"target":"t1"})j"},
    {"recovered", R"j({"target":"trainer-0","recovery_s":1.4})j"},
    {"resync", R"j({"target":"trainer-0","version":61})j"},
    {"rewind", R"j({"shard":2,"step":10,"version":10})j"},
    {"residual_reset", R"j({"target":"trainer-0","reason":"resync","norm":0.25})j"},
    {"spans", R"j({"spans":[["compute",1795310291.0,0.01,""],["push",1795310291.01,0.001,"trainer-0/7"]]})j"},
    {"restart", R"j({"target":"trainer-0","backoff_s":0.5,"cause":"trainer-0"})j"},
    {"failure", R"j({"target":"trainer-0","reason":"injected fault","backoff_s":0.5,"strategy":"one_for_one",
        "also_restarting":[]})j"},
    {"escalation", R"j({"target":"trainer-0","reason":"injected fault"})j"},
    {"config",
     R"j({"source":"examples/fmnist-local.yaml","yaml":"cluster:\n  id: x\n","overrides":["job.epochs=1"]})j"},
    {"done", R"j({"algorithm":"fed2_ucb","T":1000,"phases":9,"clients":4,"communications":30,"pull_regret":12.5,
        "communication_cost":3.0,"cumulative_regret":15.5,"active":[2],"decided_at":800,"chosen":2,"phase":9,
        "active_arms":1,"best_arm":2,"found_best":true})j"},
    {"shutdown", R"j({"reason":"done","phase":9,"clients":1,"pulls":900,"communications":8,"communication_cost":0.8,
        "arm":2})j"},
};

/// The event names written as literals anywhere in the source tree outside tests/:
/// `r["event"] = "name"` and `{"event", "name"}`, with where each was found.
std::map<std::string, std::string> events_in_source(const std::string& root) {
  namespace fs = std::filesystem;
  const std::regex assigned(R"re(\[\s*"event"\s*\]\s*=\s*"([^"]+)")re");
  const std::regex listed(R"re(\{\s*"event"\s*,\s*"([^"]+)"\s*\})re");
  std::map<std::string, std::string> found;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const auto name = it->path().filename().string();
    if (it->is_directory()) {
      if (name == "tests" || name.rfind("build", 0) == 0 || name[0] == '.' || name == "runs")
        it.disable_recursion_pending();
      continue;
    }
    const auto ext = it->path().extension().string();
    if (ext != ".cpp" && ext != ".hpp" && ext != ".h" && ext != ".cc")
      continue;
    std::ifstream in(it->path());
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n)
      for (const auto* re : {&assigned, &listed})
        for (std::sregex_iterator m(line.begin(), line.end(), *re), end; m != end; ++m)
          found.emplace((*m)[1].str(), fs::relative(it->path(), root).string() + ":" + std::to_string(n));
  }
  return found;
}

} // namespace

TEST_CASE("every event the runtime writes has a schema entry", "[observe][schema]") {
  const auto written = events_in_source(troupe::test::source_dir());
  // The scan works: it finds events of the aggregator, the trainer, the supervisor and the bandit server.
  for (const char* e : {"finish", "gradient_refused", "membership", "recovered", "restart", "done"})
    CHECK(written.count(e) == 1);
  const auto known = troupe::observe::known_events();
  for (const auto& [event, where] : written) {
    INFO(where << " writes the event \"" << event
               << "\": add it to observe/schema.cpp (its fields) and to docs/metrics.md");
    CHECK(std::find(known.begin(), known.end(), event) != known.end());
  }
  // And no entry outlives its writer; "config" is reserved until the aggregator writes it.
  for (const auto& event : known) {
    INFO("observe/schema.cpp knows the event \"" << event << "\" but nothing in the source writes it");
    CHECK((written.count(event) == 1 || event == "config"));
  }
}

TEST_CASE("every known event has its fields checked", "[observe][schema]") {
  const auto known = troupe::observe::known_events();
  CHECK(known.size() == event_examples.size());
  for (const auto& event : known) {
    INFO("event " << event);
    const auto example = event_examples.find(event);
    REQUIRE(example != event_examples.end());
    const auto rec = event_record(event, example->second);
    CHECK(troupe::observe::record_kind(rec) == "event " + event);
    CHECK(validate_record(rec).empty());
    // Each event has at least one required field beyond the common ones: dropping all of them is refused.
    auto bare = event_record(event, "{}");
    CHECK_FALSE(validate_record(bare).empty());
  }
}

TEST_CASE("gradient_refused and membership fields are checked one by one", "[observe][schema]") {
  auto refused = event_record("gradient_refused", event_examples.at("gradient_refused"));
  auto membership = event_record("membership", event_examples.at("membership"));
  SECTION("a missing count") {
    refused.erase("in_a_row");
    CHECK(names(validate_record(refused), "in_a_row"));
  }
  SECTION("a negative NaN count") {
    refused["nan"] = -3;
    CHECK(names(validate_record(refused), "nan"));
  }
  SECTION("a parameter without its name") {
    refused["params"].push_back({{"nan", 1}, {"inf", 0}});
    CHECK(names(validate_record(refused), "params[1]"));
  }
  SECTION("params not an array") {
    refused["params"] = "2.weight";
    CHECK(names(validate_record(refused), "params"));
  }
  SECTION("lost trainers are strings") {
    membership["lost"] = json::array({"trainer-1", 3});
    CHECK(names(validate_record(membership), "lost[1]"));
  }
  SECTION("no clock") {
    membership.erase("clock");
    CHECK(names(validate_record(membership), "clock"));
  }
  SECTION("an empty lost list (every trainer back) is valid") {
    membership["lost"] = json::array();
    CHECK(validate_record(membership).empty());
  }
}

TEST_CASE("a spans array reports its first bad span only", "[observe][schema]") {
  auto r = event_record("spans", R"({"spans":[]})");
  for (int i = 0; i < 1000; ++i)
    r["spans"].push_back(json::array({"compute", 1.0, 0.5})); // 3 elements: no correlation id
  const auto errors = validate_record(r);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "spans[0]");
}

TEST_CASE("balance fields are checked one by one", "[observe][schema]") {
  auto cut = event_record("balance", event_examples.at("balance"));
  SECTION("a share that is not a count") {
    cut["shares"] = json::array({48, -16});
    CHECK(names(validate_record(cut), "shares[1]"));
  }
  SECTION("a speed that is not a number") {
    cut["samples_per_s"] = json::array({1.5, "fast"});
    CHECK(names(validate_record(cut), "samples_per_s[1]"));
  }
  SECTION("no first clock") {
    cut.erase("from_clock");
    CHECK(names(validate_record(cut), "from_clock"));
  }
}

namespace {

json transport_record() {
  return json::parse(R"({"actor":"van","bytes_received":5210,"bytes_sent":4711,"mailboxes":{"aggregator":{"depth":0,
    "max":3}},"messages_received":61,"messages_sent":58,"node":"agg","peers":{"t0":{"bytes_received":2600,
    "bytes_sent":2400,"messages_received":30,"messages_sent":29,"probes_unanswered":0,"rejected":0,"rtt_last_s":0.0006,
    "rtt_min_s":0.0004,"rtt_s":0.0005,"rtt_samples":5,"send_failures":0},"t1":{"bytes_received":2610,"bytes_sent":2311,
    "messages_received":31,"messages_sent":29,"probes_unanswered":1,"rejected":0,"rtt_samples":0,"send_failures":0}},
    "prefetch":{},"rejected":0,"rejected_by_reason":{},"role":"transport","routed":{"delivered":40,"parked":0,
    "refused_full":0,"refused_no_recipient":0,"refused_unauthorized":0,"refused_unknown_actor":0},"send_failures":0,
    "step":61,"ts":1795310291.0})");
}

} // namespace

TEST_CASE("transport records are checked, per peer and per queue", "[observe][schema]") {
  const auto r = transport_record();
  CHECK(troupe::observe::record_kind(r) == "transport");
  CHECK(validate_record(r).empty());
  SECTION("older records without peers or queues are still valid") {
    auto old = r;
    for (const char* k : {"peers", "mailboxes", "prefetch", "routed"})
      old.erase(k);
    CHECK(validate_record(old).empty());
  }
  SECTION("a bad figure is named by its peer") {
    auto bad = r;
    bad["peers"]["t1"]["bytes_sent"] = -1;
    bad["peers"]["t0"].erase("rtt_samples");
    bad["peers"]["t0"]["rtt_s"] = "fast";
    const auto errors = validate_record(bad);
    CHECK(names(errors, "peers[\"t1\"].bytes_sent"));
    CHECK(names(errors, "peers[\"t0\"].rtt_samples"));
    CHECK(names(errors, "peers[\"t0\"].rtt_s"));
    CHECK(errors.size() == 3);
  }
  SECTION("queues, refusals and the totals are checked too") {
    auto bad = r;
    bad["mailboxes"]["aggregator"] = 3;
    bad["prefetch"]["trainer-0"] = {{"depth", 2}};
    bad["rejected_by_reason"]["flooding"] = "many";
    bad["peers"] = json::array();
    bad.erase("messages_sent");
    const auto errors = validate_record(bad);
    CHECK(names(errors, "mailboxes[\"aggregator\"]"));
    CHECK(names(errors, "prefetch[\"trainer-0\"].max"));
    CHECK(names(errors, "rejected_by_reason[\"flooding\"]"));
    CHECK(names(errors, "peers"));
    CHECK(names(errors, "messages_sent"));
  }
}
