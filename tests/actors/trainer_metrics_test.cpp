// The trainers' share, speed and idle split (issue #13 item 5) in the records of a real in-process
// run, and what watch, the report and Prometheus make of them: a 2-trainer bsp run balanced by
// speed, trainer 1 slowed 4x by the straggler hook.

#include <map>
#include <vector>

#include <fmt/format.h>

#include "observe/record_feed.hpp"
#include "observe/records.hpp"
#include "observe/report.hpp"
#include "observe/schema.hpp"
#include "observe/watch.hpp"

#include "cluster_run.hpp"

using namespace troupe;

TEST_CASE("a balanced bsp run records each trainer's share, speed and idle split",
          "[actors][cluster][balance][trainer_metrics]") {
  test::cluster_case c;
  c.trainers = 2;
  c.batch = 32; // 640 samples: 10 clocks of a 64-sample global batch
  c.balance = "{mode: speed, every_clocks: 3}";
  test::scratch_dir dir("trainer-metrics");
  const auto r = test::run_cluster(c, dir.path, {{1, 4.0}});
  REQUIRE(r.exit_code == 0);
  const auto run = observe::read_records((dir.path / "metrics").string());
  INFO((run.errors.empty() ? std::string() : run.errors.front().to_string()));
  REQUIRE(run.errors.empty()); // every record, the new fields included, satisfies the schema

  std::map<std::uint64_t, std::vector<std::size_t>> cuts;        // from_clock -> shares by rank
  std::map<std::uint64_t, std::map<std::string, double>> shares; // the batch's clock -> trainer -> share
  std::map<std::string, double> samples, compute, wait_params_early;
  for (const auto& rec : run.records) {
    if (rec.text("event") == "balance")
      cuts[rec.fields["from_clock"].get<std::uint64_t>()] = rec.fields["shares"].get<std::vector<std::size_t>>();
    if (rec.role != "trainer" || rec.fields.contains("event"))
      continue;
    CAPTURE(rec.fields.dump());
    for (const char* field :
         {"share", "wait_params_s", "wait_batch_s", "wall_s", "wait_params_frac", "wait_batch_frac"})
      REQUIRE(rec.fields.contains(field));
    const double wp = rec.number("wait_params_s"), wb = rec.number("wait_batch_s"), wall = rec.number("wall_s");
    CHECK(wp + wb == Approx(rec.number("wait_s")));
    CHECK(wall >= (rec.number("compute_s") + wp + wb) * 0.999); // the period holds its compute and its waits
    CHECK(rec.number("wait_params_frac") == Approx(wp / wall));
    CHECK(rec.number("wait_batch_frac") == Approx(wb / wall));
    CHECK(rec.number("wait_params_frac") + rec.number("wait_batch_frac") <= 1.0 + 1e-9);
    // print_freq 1: a record covers one clock, the batch of clock step - 1.
    REQUIRE(rec.step >= 1);
    shares[rec.step - 1][rec.actor] = rec.number("share");
    samples[rec.actor] += rec.number("share");
    compute[rec.actor] += rec.number("compute_s");
    if (rec.step == 2 || rec.step == 3) // the first, equal cut: trainer-0 waits for the slowed one's gradient
      wait_params_early[rec.actor] += wp;
  }

  REQUIRE(shares.size() == 10);
  REQUIRE(cuts.size() >= 3);
  for (const auto& [clock, by_trainer] : shares) {
    CAPTURE(clock);
    REQUIRE(by_trainer.size() == 2);
    CHECK(by_trainer.at("trainer-0") + by_trainer.at("trainer-1") == 64.0); // the global batch
    // The loader's cut of this clock's period is what each trainer was given.
    const auto cut = cuts.find(clock / 3 * 3);
    REQUIRE(cut != cuts.end());
    CHECK(by_trainer.at("trainer-0") == static_cast<double>(cut->second[0]));
    CHECK(by_trainer.at("trainer-1") == static_cast<double>(cut->second[1]));
  }
  const auto& last = shares.rbegin()->second;
  CHECK(last.at("trainer-1") < last.at("trainer-0")); // the slowed trainer is given less
  CHECK(samples["trainer-1"] / compute["trainer-1"] < samples["trainer-0"] / compute["trainer-0"]); // and is slower
  CHECK(wait_params_early["trainer-0"] > wait_params_early["trainer-1"]);

  SECTION("watch, the report and Prometheus show them") {
    const auto watch = observe::render_watch(run.records, run.records.back().ts);
    INFO(watch);
    CHECK_THAT(watch, Catch::Contains("NODE  RANK  CLOCK  SHARE  IMAGES/S  WAIT PARAMS  WAIT BATCH  LAG\n"));
    CHECK_THAT(watch, Catch::Contains(fmt::format("\nmain     1     10  {:>5.1f}", last.at("trainer-1"))));
    const auto html = observe::render_report(run, "trainer-metrics");
    CHECK_THAT(html, Catch::Contains("<h2>Share, speed and idle time per trainer</h2>") &&
                         Catch::Contains("<title>Share per trainer</title>"));
    observe::registry reg;
    for (const auto& rec : run.records)
      observe::feed_record(reg, rec.fields);
    CHECK(reg.value("troupe_trainer_share", {{"node", "main"}, {"trainer", "trainer-1"}}) == last.at("trainer-1"));
    CHECK(reg.value("troupe_trainer_idle_ratio", {{"node", "main"}, {"trainer", "trainer-0"}, {"what", "params"}}));
    CHECK(reg.value("troupe_trainer_speed_samples_per_second", {{"node", "main"}, {"trainer", "trainer-0"}}) > 0.0);
  }
}
