#pragma once
// Starting troupe-node processes from tests.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "tests/actors/cluster_test_util.hpp"

extern char** environ;

namespace troupe::test {

/// Starts args[0] with args, stdout and stderr into `log`.
inline pid_t launch(const std::vector<std::string>& args, const std::string& log) {
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

/// Runs a command to its end (killed after 240 s) and returns its exit status (-1 if it did not exit).
inline int run_to_end(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = launch(args, log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Whether the aggregator's log already holds a record with "event" == event.
inline bool has_event(const std::filesystem::path& log, const std::string& event) {
  if (!std::filesystem::exists(log))
    return false;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line))
    if (line.find("\"event\":\"" + event + "\"") != std::string::npos)
      return true;
  return false;
}

/// The newest "step" the aggregator's progress records reached.
inline std::uint64_t aggregator_step(const std::filesystem::path& log) {
  std::uint64_t step = 0;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    const auto rec = nlohmann::json::parse(line, nullptr, false);
    if (rec.is_object() && rec.value("actor", "") == "aggregator" && rec.contains("loss"))
      step = std::max<std::uint64_t>(step, rec.value("step", std::uint64_t{0}));
  }
  return step;
}

} // namespace troupe::test
