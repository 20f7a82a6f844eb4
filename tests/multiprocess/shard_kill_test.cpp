// Sharded aggregators across processes: the aggregator role on two nodes (one shard each), and
// the second one killed with SIGKILL mid-run and started again by the same command.

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <thread>

#include <sys/wait.h>

#include "process_util.hpp"
#include "train/model_file.hpp"

using namespace troupe;

namespace {

struct five_nodes {
  std::map<std::string, pid_t> pids;
  std::map<std::string, int> exit_codes;
};

const std::vector<std::pair<std::string, std::string>> nodes = {
    {"agg", "aggregator"}, {"agg1", "aggregator"}, {"loader", "loader"}, {"t0", "trainer"}, {"t1", "trainer"}};

template <class Condition>
bool wait_for(Condition condition, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return condition();
}

/// Waits (bounded) until every process has exited and notes each exit code (-1: a signal).
bool reap_all(five_nodes& run, std::chrono::seconds limit) {
  return wait_for(
      [&] {
        for (auto& [name, pid] : run.pids) {
          int status = 0;
          if (!run.exit_codes.count(name) && ::waitpid(pid, &status, WNOHANG) == pid)
            run.exit_codes[name] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        return run.exit_codes.size() == run.pids.size();
      },
      limit);
}

std::string logs_of(const std::filesystem::path& dir, const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += "---- " + n + "\n" + test::slurp(dir / (n + ".log"));
  return out;
}

/// Runs the job with two aggregator nodes (one shard each) whole, then again with shard 1's
/// process killed with SIGKILL once shard 0 reached step `kill_at` and started again by the same
/// command. `own_disk`: shard 1 keeps its checkpoint parts in a directory of its own, as on
/// another host without a shared filesystem (checkpoint.* is per node: `--set checkpoint.dir`).
/// Every process must exit 0 and the bsp run end with the very parameters of the whole run.
/// Returns the killed run's directory (its logs and metrics, for the caller's own checks).
std::unique_ptr<test::scratch_dir> kill_and_restart_shard(const std::string& tag, std::uint64_t kill_at,
                                                          bool own_disk) {
  test::cluster_case c;
  c.transport = "ipc";
  c.aggregator_nodes = 2;
  c.trainers = 2;
  c.batch = 32;
  c.epochs = 2;
  c.max_train = 1920; // 30 clocks per epoch
  c.max_test = 200;
  c.print_freq = 5;
  auto config_in = [&](const std::filesystem::path& where) {
    auto yaml = test::topology_yaml(c, where);
    yaml.insert(yaml.find("checkpoint:\n") + std::string("checkpoint:\n").size(), "  every_steps: 10\n");
    const auto path = where / "topology.yaml";
    std::ofstream(path) << yaml;
    return path;
  };
  auto start = [&](const std::filesystem::path& config, const std::filesystem::path& run_dir, const std::string& node,
                   const std::string& role, const std::string& log) {
    // The slowed trainer only stretches wall time (bsp results do not depend on timing).
    std::vector<std::string> args{TROUPE_NODE_BINARY, "--role",         role, "--name", node, "--config",
                                  config.string(),    "--slow-trainer", "0=3"};
    if (own_disk && node == "agg1")
      args.insert(args.end(), {"--set", "checkpoint.dir=" + (run_dir / "agg1-disk").string()});
    return test::launch(args, (run_dir / (log + ".log")).string());
  };
  auto model_of = [](const std::filesystem::path& run_dir) {
    return train::load_model((run_dir / "checkpoints" / "model_final.trpm").string()).params;
  };

  test::scratch_dir whole_dir("shard-kill-whole");
  five_nodes whole;
  const auto whole_config = config_in(whole_dir.path);
  for (const auto& [node, role] : nodes)
    whole.pids[node] = start(whole_config, whole_dir.path, node, role, node);
  REQUIRE(reap_all(whole, std::chrono::seconds(240)));
  {
    INFO(logs_of(whole_dir.path, {"agg", "agg1", "loader", "t0", "t1"}));
    for (const auto& [node, code] : whole.exit_codes) {
      CAPTURE(node);
      REQUIRE(code == 0);
    }
  }

  auto killed = std::make_unique<test::scratch_dir>(tag);
  const auto& dir = killed->path;
  five_nodes run;
  const auto config = config_in(dir);
  for (const auto& [node, role] : nodes)
    run.pids[node] = start(config, dir, node, role, node);
  const auto agg_log = dir / "metrics" / "agg.jsonl";
  const bool reached = wait_for([&] { return test::aggregator_step(agg_log) >= kill_at; }, std::chrono::seconds(120));
  if (!reached) {
    for (auto& [node, pid] : run.pids)
      ::kill(pid, SIGKILL);
    reap_all(run, std::chrono::seconds(30));
    INFO(logs_of(dir, {"agg", "agg1", "loader", "t0", "t1"}));
    FAIL("the job did not reach step " << kill_at << " within 120 s");
  }
  ::kill(run.pids["agg1"], SIGKILL);
  int status = 0;
  ::waitpid(run.pids["agg1"], &status, 0);
  run.pids["agg1"] = start(config, dir, "agg1", "aggregator", "agg1-again");
  REQUIRE(reap_all(run, std::chrono::seconds(240)));
  INFO(logs_of(dir, {"agg", "agg1", "agg1-again", "loader", "t0", "t1"}));
  for (const auto& [node, code] : run.exit_codes) {
    CAPTURE(node);
    REQUIRE(code == 0);
  }
  // Every shard went back with the new shard 1, and the run ended with the very parameters of
  // the run nobody killed.
  REQUIRE(test::has_event(agg_log, "rewind"));
  REQUIRE(model_of(dir) == model_of(whole_dir.path));
  return killed;
}

} // namespace

TEST_CASE("an aggregator shard's process killed with SIGKILL and started again: every shard rewinds, bsp ends "
          "bitwise equal",
          "[multiprocess][faults][shard-kill]") {
  // The new shard 1 resumed from its newest part (step 20), and every shard went back there.
  const auto run = kill_and_restart_shard("shard-kill", 25, false); // holds the directory
  const auto& dir = run->path;
  REQUIRE(test::has_event(dir / "metrics" / "agg1.jsonl", "resume"));
}

TEST_CASE("aggregator shards on separate disks (no shared filesystem): a shard killed mid-run or before any "
          "checkpoint comes back at the step every shard holds, learned from the others, and bsp ends bitwise equal",
          "[multiprocess][faults][shard-disk]") {
  // Step 25: the new shard 1 resumes from its part at 20, which shard 0 holds too. Before the
  // shards told each other their steps, it listed shard 0's directory, not on its disk, and came
  // back at clock 0 while the others ran on. Step 5: no part anywhere (checkpoints every 10
  // steps); it hears that shard 0 runs the job, and every shard goes back to the initial
  // parameters with it.
  const std::uint64_t kill_at = GENERATE(25u, 5u);
  const auto run = kill_and_restart_shard("shard-disk", kill_at, true); // holds the directory
  const auto& dir = run->path;
  REQUIRE(test::has_event(dir / "metrics" / "agg1.jsonl", "resume") == (kill_at == 25));
  REQUIRE(std::filesystem::exists(dir / "agg1-disk" / "shard-1"));
  REQUIRE_FALSE(std::filesystem::exists(dir / "checkpoints" / "shard-1")); // shard 0's disk never held them
  REQUIRE(std::filesystem::exists(dir / "checkpoints" / "shard-0"));
}

// A shard node that never comes back: nobody waits for it forever. The survivors give up after
// cluster.aggregator_gone_after_s() (max(10 s, 2 x connect_timeout_s)) with an error naming it.
TEST_CASE("an aggregator shard's process killed for good: every other process ends, naming the silent shard",
          "[multiprocess][faults][shard-lost]") {
  const bool coordinator = GENERATE(false, true); // shard 1 lost, or shard 0 (the job's coordinator)
  CAPTURE(coordinator);
  test::cluster_case c;
  c.transport = "ipc";
  c.aggregator_nodes = 2;
  c.trainers = 2;
  c.batch = 32;
  c.epochs = 20; // far longer than the test: the job cannot end by finishing
  c.max_train = 1920;
  c.max_test = 200;
  c.print_freq = 5;
  test::scratch_dir dir(coordinator ? "shard-lost-0" : "shard-lost-1");
  auto yaml = test::topology_yaml(c, dir.path);
  const std::string anchor = "  connect_timeout_s: 20\n";
  REQUIRE(yaml.find(anchor) != std::string::npos);
  yaml.replace(yaml.find(anchor), anchor.size(), "  connect_timeout_s: 6\n"); // gone after 12 s
  const auto config = dir.path / "topology.yaml";
  std::ofstream(config) << yaml;
  five_nodes run;
  for (const auto& [name, role] : nodes)
    run.pids[name] = test::launch(
        {TROUPE_NODE_BINARY, "--role", role, "--name", name, "--config", config.string(), "--slow-trainer", "0=3"},
        (dir.path / (name + ".log")).string());
  const std::string victim = coordinator ? "agg" : "agg1";
  const auto agg_log = dir.path / "metrics" / "agg.jsonl";
  const bool reached = wait_for([&] { return test::aggregator_step(agg_log) >= 10; }, std::chrono::seconds(120));
  if (!reached)
    for (auto& [name, pid] : run.pids)
      ::kill(pid, SIGKILL);
  ::kill(run.pids[victim], SIGKILL);
  const auto killed_at = std::chrono::steady_clock::now();
  const bool ended = reap_all(run, std::chrono::seconds(150));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  if (!ended)
    for (auto& [name, pid] : run.pids)
      ::kill(pid, SIGKILL);
  reap_all(run, std::chrono::seconds(30));
  INFO(logs_of(dir.path, {"agg", "agg1", "loader", "t0", "t1"}));
  REQUIRE(reached);
  REQUIRE(ended); // before: shard 0 (or the loader) waited for the lost shard forever
  CAPTURE(took);
  const std::string survivor = coordinator ? "agg1" : "agg";
  REQUIRE(run.exit_codes[survivor] == 1); // the job ended in failure, by decision
  const auto said = test::slurp(dir.path / (survivor + ".log"));
  REQUIRE_THAT(said, Catch::Contains(coordinator ? "aggregator shard 0 on node 'agg'"
                                                 : "aggregator shard 1 on node "
                                                   "'agg1'") &&
                         Catch::Contains("has been silent for"));
  if (coordinator) { // nobody else is left to tell the loader and the trainers
    REQUIRE_THAT(test::slurp(dir.path / "loader.log"), Catch::Contains("the loader ends: aggregator shard 0 on node "
                                                                       "'agg' has been silent for"));
    REQUIRE(run.exit_codes["loader"] == 1);
    REQUIRE_THAT(test::slurp(dir.path / "t0.log"), Catch::Contains("aggregator shard 0 on node 'agg'"));
  }
}
