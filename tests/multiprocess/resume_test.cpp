// kill -9 in the middle of a deterministic bsp run, then the same command again: the run resumes
// from its newest checkpoint and ends with bitwise the same parameters as an uninterrupted run.

#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <thread>

#include <sys/wait.h>

#include "process_util.hpp"
#include "train/model_file.hpp"

using namespace troupe;

namespace {

std::vector<std::string> node_command(const std::filesystem::path& config) {
  // The slowed trainer only stretches wall time (bsp results do not depend on timing), so the
  // test has time to kill the run between two checkpoints.
  return {TROUPE_NODE_BINARY, "--role", "all", "--config", config.string(), "--slow-trainer", "0=4"};
}

std::size_t newest_checkpoint_step(const std::filesystem::path& dir) {
  std::size_t best = 0;
  if (!std::filesystem::exists(dir))
    return 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    const auto name = f.path().filename().string();
    if (name.rfind("ckpt-", 0) == 0 && f.path().extension() == ".trpc")
      best = std::max<std::size_t>(best, std::stoul(name.substr(5, name.size() - 10)));
  }
  return best;
}

} // namespace

TEST_CASE("a bsp run killed with SIGKILL and resumed ends bitwise equal to an uninterrupted run",
          "[multiprocess][faults][resume]") {
  // With corrupt_newest, the newest checkpoint is damaged before the resume: the node must
  // report it, fall back to the previous good one, and (bsp being deterministic) still end equal.
  const bool corrupt_newest = GENERATE(false, true);
  CAPTURE(corrupt_newest);
  test::cluster_case c;
  c.trainers = 2;
  c.batch = 16;
  c.epochs = 2;
  c.max_train = 2560;
  c.max_test = 200;
  c.print_freq = 20;
  test::scratch_dir whole("resume-whole"), killed("resume-killed");
  auto config_of = [&](const test::scratch_dir& d) {
    auto yaml = test::topology_yaml(c, d.path);
    // Checkpoints every 10 updates, the last 3 kept.
    const auto pos = yaml.find("checkpoint:\n");
    yaml.insert(pos + std::string("checkpoint:\n").size(), "  every_steps: 10\n  keep: 3\n");
    const auto path = d.path / "topology.yaml";
    std::ofstream(path) << yaml;
    return path;
  };
  const auto whole_config = config_of(whole), killed_config = config_of(killed);

  int status = test::run_to_end(node_command(whole_config), (whole.path / "run.log").string());
  INFO(test::slurp(whole.path / "run.log"));
  REQUIRE(status == 0);

  // Start, wait for a checkpoint well into the run, kill -9, start again with the same command.
  const pid_t first = test::launch(node_command(killed_config), (killed.path / "first.log").string());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (newest_checkpoint_step(killed.path / "checkpoints") < 40 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(first, SIGKILL);
  int first_status = 0;
  ::waitpid(first, &first_status, 0);
  REQUIRE(WIFSIGNALED(first_status)); // it really died mid-run
  const auto killed_at = newest_checkpoint_step(killed.path / "checkpoints");
  REQUIRE(killed_at >= 40);
  REQUIRE(killed_at < 160);

  if (corrupt_newest) {
    const auto newest = killed.path / "checkpoints" / fmt::format("ckpt-{:012}.trpc", killed_at);
    REQUIRE(std::filesystem::exists(newest));
    std::filesystem::resize_file(newest, std::filesystem::file_size(newest) / 2);
  }
  status = test::run_to_end(node_command(killed_config), (killed.path / "second.log").string());
  const auto second_log = test::slurp(killed.path / "second.log");
  INFO(second_log);
  REQUIRE(status == 0);
  bool resumed = false;
  for (const auto& rec : test::read_records(killed.path / "metrics" / "main.jsonl"))
    resumed = resumed || rec.value("event", "") == "resume";
  REQUIRE(resumed);
  if (corrupt_newest)
    REQUIRE(second_log.find("skipped a damaged checkpoint") != std::string::npos);

  const auto a = train::load_model((whole.path / "checkpoints" / "model_final.trpm").string());
  const auto b = train::load_model((killed.path / "checkpoints" / "model_final.trpm").string());
  REQUIRE(a.params.size() == b.params.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < a.params.size(); ++i)
    differing += std::memcmp(&a.params[i], &b.params[i], sizeof(float)) != 0;
  REQUIRE(differing == 0);
}
