// The 2-trainer topology as four separate troupe-node processes (aggregator, loader, two
// trainers) over ipc:// sockets, started in reverse order, training a Fashion-MNIST slice.

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

#include "process_util.hpp"

using namespace troupe;
using test::launch;
using test::slurp;

namespace {

struct child {
  std::string node;
  pid_t pid = -1;
  int status = -1;
  bool done = false;
};

struct cluster_outcome {
  std::vector<child> children;
  std::string logs;
};

/// Starts the four nodes (trainers first: they must wait for the others), optionally sends
/// `signal` to node `victim` after `delay`, and waits for every process (killing any left after 240 s).
cluster_outcome run_four(const std::filesystem::path& config, const std::filesystem::path& dir,
                         const std::string& victim = {}, int signal = 0,
                         std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
  const std::vector<std::pair<std::string, std::string>> nodes{
      {"t1", "trainer"}, {"t0", "trainer"}, {"loader", "loader"}, {"agg", "aggregator"}};
  cluster_outcome out;
  for (const auto& [name, role] : nodes) {
    out.children.push_back({name});
    out.children.back().pid =
        launch({TROUPE_NODE_BINARY, "--role", role, "--name", name, "--config", config.string()},
               (dir / (name + ".log")).string());
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(240);
  bool signalled = victim.empty();
  std::size_t running = out.children.size();
  while (running > 0 && std::chrono::steady_clock::now() < deadline) {
    if (!signalled && std::chrono::steady_clock::now() - start >= delay) {
      for (auto& ch : out.children)
        if (ch.node == victim && !ch.done)
          ::kill(ch.pid, signal);
      signalled = true;
    }
    for (auto& ch : out.children)
      if (!ch.done && ::waitpid(ch.pid, &ch.status, WNOHANG) == ch.pid) {
        ch.done = true;
        --running;
      }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& ch : out.children) {
    if (!ch.done) {  // a hang is a failure: kill what is left so the test ends
      ::kill(ch.pid, SIGKILL);
      ::waitpid(ch.pid, &ch.status, 0);
    }
    out.logs += "---- " + ch.node + "\n" + slurp(dir / (ch.node + ".log"));
  }
  return out;
}

void require_all_exited_zero(const cluster_outcome& out) {
  INFO(out.logs);
  for (const auto& ch : out.children) {
    CAPTURE(ch.node);
    REQUIRE(ch.done);
    REQUIRE(WIFEXITED(ch.status));
    REQUIRE(WEXITSTATUS(ch.status) == 0);
  }
}

} // namespace

TEST_CASE("four troupe-node processes train the 2-trainer topology and all exit 0", "[multiprocess][e2e]") {
  test::scratch_dir dir("multiprocess");
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 2;
  c.batch = 32;
  c.max_train = 3200;
  c.max_test = 1000;
  c.print_freq = 10;
  const auto config = dir.path / "topology.yaml";
  std::ofstream(config) << test::topology_yaml(c, dir.path);

  const auto out = run_four(config, dir.path);
  require_all_exited_zero(out);
  double acc = -1;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "agg.jsonl"))
    if (rec.contains("test_acc"))
      acc = rec["test_acc"].get<double>();
  INFO(out.logs);
  REQUIRE(acc > 0.6);  // 3200 images, one epoch; chance is 0.10
  REQUIRE(std::filesystem::exists(dir.path / "checkpoints" / "model_final.trpm"));
  for (const std::string node : {"agg", "loader", "t0", "t1"})  // every node wrote its own metrics log
    REQUIRE(std::filesystem::exists(dir.path / "metrics" / (node + ".jsonl")));
}

TEST_CASE("SIGTERM to one trainer process stops the whole job gracefully", "[multiprocess][e2e]") {
  test::scratch_dir dir("multiprocess-sigterm");
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 2;
  c.batch = 32;
  c.epochs = 50;  // far longer than the test waits: only the signal ends it
  c.max_train = 3200;
  c.max_test = 200;
  c.print_freq = 10;
  const auto config = dir.path / "topology.yaml";
  std::ofstream(config) << test::topology_yaml(c, dir.path);

  const auto out = run_four(config, dir.path, "t0", SIGTERM, std::chrono::milliseconds(4000));
  require_all_exited_zero(out);
  INFO(out.logs);
  std::string reason;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "agg.jsonl"))
    if (rec.value("event", "") == "finish")
      reason = rec["reason"].get<std::string>();
  REQUIRE(reason == "stopped by 't0'");
  REQUIRE(std::filesystem::exists(dir.path / "checkpoints" / "model_final.trpm"));
}
