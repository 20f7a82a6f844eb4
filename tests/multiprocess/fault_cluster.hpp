#pragma once
// Running the 4-process topology (aggregator, loader, trainers t0 and t1) for network fault
// tests: one YAML per process, so that one trainer can be put behind a fault proxy or in its
// own network namespace, and a process group that is killed if a test fails midway.

#include <algorithm>
#include <csignal>
#include <cstring>
#include <functional>
#include <map>

#include "process_util.hpp"
#include "train/model_file.hpp"

namespace troupe::test {

/// The records of `log` whose "event" is `event` (and whose "target" is `target`, when given).
inline std::vector<nlohmann::json> events(const std::filesystem::path& log, const std::string& event,
                                          const std::string& target = {}) {
  std::vector<nlohmann::json> out;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    const auto rec = nlohmann::json::parse(line, nullptr, false); // a line being written may be partial
    if (rec.is_object() && rec.value("event", "") == event && (target.empty() || rec.value("target", "") == target))
      out.push_back(rec);
  }
  return out;
}

/// Polls `condition` every 20 ms until it holds or `limit` passes; returns its last value.
template <class Condition>
bool wait_for(Condition condition, std::chrono::duration<double> limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return condition();
}

/// Node processes of one run. Whatever still runs when this goes out of scope (a failed
/// REQUIRE midway) is killed, so a failing test leaves no troupe-node behind.
class process_group {
public:
  struct proc {
    std::string name;
    pid_t pid = -1;
    int status = 0;
    bool done = false;
  };

  ~process_group() {
    for (auto& p : procs_)
      if (!p.done) {
        ::kill(p.pid, SIGKILL);
        ::waitpid(p.pid, &p.status, 0);
      }
  }

  void start(const std::string& name, const std::vector<std::string>& args, const std::filesystem::path& log) {
    procs_.push_back({name, launch(args, log.string())});
    logs_.push_back(log);
  }

  /// Waits up to `limit` for every process to exit; true if all did.
  bool wait_all(std::chrono::seconds limit) {
    return wait_for(
        [&] {
          bool all = true;
          for (auto& p : procs_) {
            if (!p.done && ::waitpid(p.pid, &p.status, WNOHANG) == p.pid)
              p.done = true;
            all = all && p.done;
          }
          return all;
        },
        limit);
  }

  /// "" when every process exited 0, else which did not and how.
  std::string failures() const {
    std::string out;
    for (const auto& p : procs_) {
      if (!p.done)
        out += fmt::format("{} still running; ", p.name);
      else if (!WIFEXITED(p.status))
        out += fmt::format("{} killed by signal {}; ", p.name, WTERMSIG(p.status));
      else if (WEXITSTATUS(p.status) != 0)
        out += fmt::format("{} exited {}; ", p.name, WEXITSTATUS(p.status));
    }
    return out;
  }

  std::string logs() const {
    std::string out;
    for (std::size_t i = 0; i < procs_.size(); ++i)
      out += "---- " + procs_[i].name + "\n" + slurp(logs_[i]);
    return out;
  }

private:
  std::vector<proc> procs_;
  std::vector<std::filesystem::path> logs_;
};

/// Replaces every occurrence of `from` in `text` by `to`.
inline std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

/// What a finished run left behind.
struct run_result {
  double final_acc = -1; ///< test_acc of the aggregator's last evaluation
  train::saved_model model;
};

inline run_result read_result(const std::filesystem::path& dir) {
  run_result r;
  for (const auto& rec : read_records(dir / "metrics" / "agg.jsonl"))
    if (rec.contains("test_acc"))
      r.final_acc = rec["test_acc"].get<double>();
  r.model = train::load_model((dir / "checkpoints" / "model_final.trpm").string());
  return r;
}

/// How many parameters of a and b differ in any bit (all of them if the layouts differ).
inline std::size_t differing_params(const train::saved_model& a, const train::saved_model& b) {
  if (a.params.size() != b.params.size())
    return std::max(a.params.size(), b.params.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.params.size(); ++i)
    n += std::memcmp(&a.params[i], &b.params[i], sizeof(float)) != 0;
  return n;
}

/// Whether the aggregator's log holds an event other than the ones a healed fault leaves in a
/// bsp run that waited for the lost trainer (peer_lost/peer_back, checkpoints, spans, finish).
/// If it does not, every round had every trainer's gradient and the run must be bitwise equal
/// to a fault-free one; if it does (say the aggregator shrank the round while the trainer was
/// gone), only the accuracy can be compared.
inline std::string unexpected_event(const std::filesystem::path& agg_log) {
  static const std::vector<std::string> known{"peer_lost",  "peer_back",          "spans",
                                              "checkpoint", "checkpoint_skipped", "finish"};
  for (const auto& rec : read_records(agg_log))
    if (rec.contains("event") && std::find(known.begin(), known.end(), rec["event"].get<std::string>()) == known.end())
      return rec.dump();
  return {};
}

} // namespace troupe::test
