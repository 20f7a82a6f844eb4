// A job always ends (#13): a trainer that has finished its clocks waits for the aggregator as
// long as the aggregator answers, not for a fixed time, and once the job is over every actor of
// every node ends, even a trainer whose restart was due when the aggregator finished.

#include <chrono>
#include <future>
#include <sstream>
#include <thread>

#include "actors/node.hpp"
#include "config/topology.hpp"
#include "train/model_file.hpp"

#include "cluster_test_util.hpp"

using namespace troupe;

namespace {

struct ended {
  bool in_time = false;
  int exit_code = -1;
  std::string console;
};

/// Runs every node of the case in this process; stops it (and reports in_time = false) if it
/// has not ended after `limit`.
ended run_with_deadline(const test::cluster_case& c, const std::filesystem::path& dir, std::chrono::seconds limit,
                        std::map<std::size_t, double> slow, std::map<std::size_t, std::uint64_t> fail = {}) {
  // connect_timeout_s 5: a trainer gives up on a silent aggregator after 10 s (its floor), so the
  // asp case below, where the fast trainer waits about 20 s, shows that it waits on liveness.
  const auto topo =
      config::parse_topology(test::topology_yaml(c, dir), "test.yaml", {{"cluster.connect_timeout_s", "5"}});
  actors::run_options o;
  for (const auto& n : topo.cluster.nodes)
    o.nodes.push_back(n.name);
  std::ostringstream console;
  o.out = &console;
  o.slow_trainers = std::move(slow);
  o.fail_trainers = std::move(fail);
  std::atomic<bool> stop{false};
  o.stop = &stop;
  auto done = std::async(std::launch::async, [&] { return actors::run_nodes(topo, o); });
  ended e;
  e.in_time = done.wait_for(limit) == std::future_status::ready;
  if (!e.in_time)
    stop = true; // end it gracefully so the test can report instead of hanging
  e.exit_code = done.get();
  e.console = console.str();
  return e;
}

} // namespace

TEST_CASE("a trainer 20x slower than the other: asp, ssp and bsp all end on their own with exit 0",
          "[actors][cluster][straggler][faults]") {
  test::cluster_case c;
  c.transport = "inproc";
  c.trainers = 2;
  c.mode = GENERATE(as<std::string>{}, "bsp", "ssp", "asp");
  c.staleness = c.mode == "ssp" ? 3 : 0;
  c.momentum = c.mode == "bsp" ? 0.9f : 0.0f;
  c.batch = 16;
  // asp: the fast trainer finishes its 192 clocks and then waits for the slow one for longer than
  // the trainer's idle limit (10 s here) — it must not give up while the aggregator answers.
  c.max_train = c.mode == "asp" ? 6144 : 640;
  c.max_test = 100;
  c.print_freq = 20;
  CAPTURE(c.mode);
  test::scratch_dir dir("straggler-end");
  const auto e = run_with_deadline(c, dir.path, std::chrono::seconds(240), {{1, 20.0}});
  INFO(e.console);
  REQUIRE(e.in_time);
  REQUIRE(e.exit_code == 0);
  REQUIRE(std::filesystem::exists(dir.path / "checkpoints" / "model_final.trpm"));
}

TEST_CASE("the job ends while a trainer's restart is due: no actor is left waiting for a welcome",
          "[actors][cluster][faults]") {
  test::cluster_case c;
  c.transport = "inproc";
  c.trainers = 2;
  c.mode = "asp";
  c.momentum = 0;
  c.batch = 16;
  c.max_train = 640; // 20 clocks per trainer
  c.max_test = 100;
  test::scratch_dir dir("end-mid-restart");
  // Trainer 0 fails right after pushing its last clock; trainer 1 finishes at about the same time,
  // so the job ends (and the aggregator is gone) while trainer 0's restart is due: its new
  // incarnation would say hello to nobody, fail, and be restarted forever below the intensity.
  const auto e = run_with_deadline(c, dir.path, std::chrono::seconds(90), {}, {{0, 20}});
  INFO(e.console);
  REQUIRE(e.in_time);
  REQUIRE(e.exit_code == 0);
}
