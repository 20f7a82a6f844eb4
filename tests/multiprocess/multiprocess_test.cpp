// The 2-trainer topology as four separate troupe-node processes (aggregator, loader, two
// trainers) over ipc:// sockets, started in reverse order, training a Fashion-MNIST slice.

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "../actors/cluster_test_util.hpp"

extern char** environ;

using namespace troupe;

namespace {

struct child {
  std::string node;
  pid_t pid = -1;
  int status = -1;
  bool done = false;
};

pid_t launch(const std::vector<std::string>& args, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> argv;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return pid;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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

  // Reverse order: the trainers start before the aggregator and loader exist and must wait.
  const std::vector<std::pair<std::string, std::string>> nodes{
      {"t1", "trainer"}, {"t0", "trainer"}, {"loader", "loader"}, {"agg", "aggregator"}};
  std::vector<child> children;
  for (const auto& [name, role] : nodes) {
    children.push_back({name});
    children.back().pid = launch({TROUPE_NODE_BINARY, "--role", role, "--name", name, "--config", config.string()},
                                 (dir.path / (name + ".log")).string());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  std::size_t running = children.size();
  while (running > 0 && std::chrono::steady_clock::now() < deadline) {
    for (auto& ch : children)
      if (!ch.done && ::waitpid(ch.pid, &ch.status, WNOHANG) == ch.pid) {
        ch.done = true;
        --running;
      }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& ch : children)
    if (!ch.done) {  // a hang is a failure: kill what is left so the test ends
      ::kill(ch.pid, SIGKILL);
      ::waitpid(ch.pid, &ch.status, 0);
    }
  for (const auto& ch : children) {
    INFO("node " << ch.node << " log:\n" << slurp(dir.path / (ch.node + ".log")));
    REQUIRE(ch.done);
    REQUIRE(WIFEXITED(ch.status));
    REQUIRE(WEXITSTATUS(ch.status) == 0);
  }
  double acc = -1;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "agg.jsonl"))
    if (rec.contains("test_acc"))
      acc = rec["test_acc"].get<double>();
  INFO("aggregator log:\n" << slurp(dir.path / "agg.log"));
  REQUIRE(acc > 0.6);  // 3200 images, one epoch; chance is 0.10
  REQUIRE(std::filesystem::exists(dir.path / "checkpoints" / "model_final.trpm"));
  // Every node wrote its own metrics log.
  for (const auto& [name, role] : nodes)
    REQUIRE(std::filesystem::exists(dir.path / "metrics" / (name + ".jsonl")));
}
