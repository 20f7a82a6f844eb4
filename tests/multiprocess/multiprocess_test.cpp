// The 2-trainer topology as four separate troupe-node processes (aggregator, loader, two
// trainers) over ipc:// sockets, started in reverse order, training a Fashion-MNIST slice.

#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <map>
#include <thread>

#include <unistd.h>

#include "net/van.hpp"
#include "process_util.hpp"
#include "tests/support/test_env.hpp"
#include "train/model_file.hpp"

using namespace troupe;
using test::aggregator_step;
using test::has_event;
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
/// `extra` adds command-line arguments to some nodes (e.g. a test hook).
cluster_outcome run_four(const std::filesystem::path& config, const std::filesystem::path& dir,
                         const std::string& victim = {}, int signal = 0,
                         std::chrono::milliseconds delay = std::chrono::milliseconds(0),
                         const std::map<std::string, std::vector<std::string>>& extra = {}) {
  const std::vector<std::pair<std::string, std::string>> nodes{
      {"t1", "trainer"}, {"t0", "trainer"}, {"loader", "loader"}, {"agg", "aggregator"}};
  cluster_outcome out;
  for (const auto& [name, role] : nodes) {
    out.children.push_back({name});
    std::vector<std::string> args{TROUPE_NODE_BINARY, "--role", role, "--name", name, "--config", config.string()};
    if (auto it = extra.find(name); it != extra.end())
      args.insert(args.end(), it->second.begin(), it->second.end());
    out.children.back().pid = launch(args, (dir / (name + ".log")).string());
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
    if (!ch.done) { // a hang is a failure: kill what is left so the test ends
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
  REQUIRE(acc > 0.6); // 3200 images, one epoch; chance is 0.10
  REQUIRE(std::filesystem::exists(dir.path / "checkpoints" / "model_final.trpm"));
  for (const std::string node : {"agg", "loader", "t0", "t1"}) // every node wrote its own metrics log
    REQUIRE(std::filesystem::exists(dir.path / "metrics" / (node + ".jsonl")));
}

TEST_CASE("SIGTERM to one trainer process stops the whole job gracefully", "[multiprocess][e2e]") {
  test::scratch_dir dir("multiprocess-sigterm");
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 2;
  c.batch = 32;
  c.epochs = 50; // far longer than the test waits: only the signal ends it
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

TEST_CASE("four processes with keys from troupe-node keygen train over CURVE", "[multiprocess][e2e][curve]") {
  test::scratch_dir dir("multiprocess-curve");
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 2;
  c.batch = 32;
  c.max_train = 1600;
  c.max_test = 500;
  c.print_freq = 10;
  const auto keys = dir.path / "keys";
  std::map<std::string, std::string> public_keys;
  for (const std::string node : {"agg", "loader", "t0", "t1"}) {
    const auto log = (dir.path / ("keygen-" + node + ".log")).string();
    REQUIRE(test::run_to_end({TROUPE_NODE_BINARY, "keygen", "--name", node, "--dir", keys.string()}, log) == 0);
    const std::string out = slurp(log);
    const auto at = out.find("public_key: \"");
    REQUIRE(at != std::string::npos);
    public_keys[node] = out.substr(at + 13, 40);
  }
  const std::string yaml = test::with_curve(test::topology_yaml(c, dir.path), keys, public_keys);
  const auto config = dir.path / "topology.yaml";
  std::ofstream(config) << yaml;

  const auto out = run_four(config, dir.path);
  require_all_exited_zero(out);
  double acc = -1;
  std::uint64_t rejected = 1;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "agg.jsonl")) {
    if (rec.contains("test_acc"))
      acc = rec["test_acc"].get<double>();
    if (rec.value("actor", "") == "van")
      rejected = rec["rejected"].get<std::uint64_t>();
  }
  INFO(out.logs);
  REQUIRE(rejected == 0); // every listed node got in
  REQUIRE(acc > 0.5);
}

TEST_CASE("an exception inside a trainer process's actor: restarted in place, the run ends as if fault-free",
          "[multiprocess][faults][trainer-exception]") {
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 2;
  c.batch = 32;
  c.epochs = 2;
  c.max_train = 3200;
  c.max_test = 500;
  c.print_freq = 10;
  auto final_of = [&](const std::filesystem::path& where,
                      const std::map<std::string, std::vector<std::string>>& extra) {
    const auto config = where / "topology.yaml";
    std::ofstream(config) << test::topology_yaml(c, where);
    const auto out = run_four(config, where, {}, 0, std::chrono::milliseconds(0), extra);
    require_all_exited_zero(out);
    double acc = -1;
    for (const auto& rec : test::read_records(where / "metrics" / "agg.jsonl"))
      if (rec.contains("test_acc"))
        acc = rec["test_acc"].get<double>();
    return std::make_pair(acc, train::load_model((where / "checkpoints" / "model_final.trpm").string()).params);
  };
  test::scratch_dir clean_dir("multiprocess-exception-clean"), failed_dir("multiprocess-exception");
  const auto [clean_acc, clean_params] = final_of(clean_dir.path, {});
  // Trainer rank 1 (node t1) throws when about to compute clock 30; t1's supervisor restarts it.
  const auto [acc, params] = final_of(failed_dir.path, {{"t1", {"--fail-trainer", "1=30"}}});
  std::vector<std::string> events;
  double recovery_s = -1;
  for (const auto& rec : test::read_records(failed_dir.path / "metrics" / "t1.jsonl")) {
    const auto event = rec.value("event", "");
    if (event == "failure" || event == "restart" || event == "recovered")
      events.push_back(event);
    if (event == "recovered")
      recovery_s = rec["recovery_s"].get<double>();
  }
  CHECK(events == std::vector<std::string>{"failure", "restart", "recovered"});
  CHECK(recovery_s > 0.0);
  CHECK(recovery_s < 10.0);
  CAPTURE(acc, clean_acc);
  REQUIRE(clean_acc > 0.6);
  REQUIRE(std::abs(acc - clean_acc) <= 0.005); // within 0.5 points of the fault-free run
  CHECK(params == clean_params);               // bsp is deterministic: in fact bit for bit
}

namespace {} // namespace

TEST_CASE("a trainer or loader process killed with SIGKILL is detected within seconds and rejoins when restarted",
          "[multiprocess][e2e][faults][rejoin]") {
  // The trainer's requests name the clocks they want and are retried, so a restarted loader
  // needs none of the dead one's state; a restarted trainer gets its clock from the aggregator.
  // A restarted aggregator resumes from its newest checkpoint; the trainers, whose hellos it
  // waits for, re-sync to the checkpoint's clocks.
  const std::string victim = GENERATE(as<std::string>{}, "t1", "loader", "agg");
  CAPTURE(victim);
  test::scratch_dir dir("multiprocess-rejoin");
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 2;
  c.batch = 32;
  c.epochs = 3;
  c.max_train = 3200;
  c.max_test = 500;
  c.print_freq = 5;
  auto topology_in = [&](const std::filesystem::path& where) {
    auto yaml = test::topology_yaml(c, where);
    yaml.insert(yaml.find("checkpoint:\n") + std::string("checkpoint:\n").size(), "  every_steps: 10\n");
    const auto path = where / "topology.yaml";
    std::ofstream(path) << yaml;
    return path;
  };
  // The fault-free run of the same topology and seed, once for all three victims.
  static double reference_acc = -1;
  if (reference_acc < 0) {
    test::scratch_dir ref("multiprocess-rejoin-reference");
    const auto out = run_four(topology_in(ref.path), ref.path);
    require_all_exited_zero(out);
    for (const auto& rec : test::read_records(ref.path / "metrics" / "agg.jsonl"))
      if (rec.contains("test_acc"))
        reference_acc = rec["test_acc"].get<double>();
    REQUIRE(reference_acc > 0.6);
  }
  const auto config = topology_in(dir.path);
  const auto agg_log = dir.path / "metrics" / "agg.jsonl";
  auto command = [&](const std::string& role, const std::string& name) {
    return std::vector<std::string>{TROUPE_NODE_BINARY, "--role",         role, "--name", name, "--config",
                                    config.string(),    "--slow-trainer", "0=2"};
  };
  std::map<std::string, pid_t> pids;
  for (const auto& [name, role] : std::vector<std::pair<std::string, std::string>>{
           {"agg", "aggregator"}, {"loader", "loader"}, {"t0", "trainer"}, {"t1", "trainer"}})
    pids[name] = launch(command(role, name), (dir.path / (name + ".log")).string());

  auto wait_for = [&](auto condition, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return condition();
  };
  if (!wait_for([&] { return aggregator_step(agg_log) >= 20; }, std::chrono::seconds(120))) {
    for (auto& [name, pid] : pids)
      ::kill(pid, SIGKILL);
    std::string logs;
    for (auto& [name, pid] : pids) {
      ::waitpid(pid, nullptr, 0);
      logs += "---- " + name + "\n" + slurp(dir.path / (name + ".log"));
    }
    INFO(logs);
    FAIL("the job did not reach step 20 within 120 s");
  }
  ::kill(pids[victim], SIGKILL);
  const auto killed_at = std::chrono::steady_clock::now();
  int status = 0;
  ::waitpid(pids[victim], &status, 0);
  if (victim != "agg") { // the aggregator detects the others
    REQUIRE(wait_for([&] { return has_event(agg_log, "peer_lost"); }, std::chrono::seconds(15)));
    const double detect_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
    CHECK(detect_s < 6.0); // 3 heartbeat intervals of 1 s + the 1 s check tick, with slack for a loaded CI machine
  }

  // The same command again: the trainer says hello, gets its clock and the parameters, the
  // loader continues its shard there, and nobody else restarts.
  pids[victim] = launch(command(victim == "loader" ? "loader"
                                : victim == "agg"  ? "aggregator"
                                                   : "trainer",
                                victim),
                        (dir.path / (victim + "-again.log")).string());
  std::map<std::string, int> exit_codes;
  REQUIRE(wait_for(
      [&] {
        for (auto& [name, pid] : pids)
          if (!exit_codes.count(name) && ::waitpid(pid, &status, WNOHANG) == pid)
            exit_codes[name] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return exit_codes.size() == pids.size();
      },
      std::chrono::seconds(180)));
  std::string logs;
  for (const std::string& n : std::vector<std::string>{"agg", "loader", "t0", "t1", victim + "-again"})
    logs += "---- " + n + "\n" + slurp(dir.path / (n + ".log"));
  INFO(logs);
  for (const auto& [name, code] : exit_codes) {
    CAPTURE(name);
    REQUIRE(code == 0);
  }
  if (victim == "agg")
    REQUIRE(has_event(agg_log, "resume"));
  else
    REQUIRE(has_event(agg_log, "peer_back"));
  double acc = -1;
  for (const auto& rec : test::read_records(agg_log))
    if (rec.contains("test_acc"))
      acc = rec["test_acc"].get<double>();
  CAPTURE(acc, reference_acc);
  REQUIRE(std::abs(acc - reference_acc) <= 0.005); // within 0.5 points of the fault-free run
}

TEST_CASE("a trainer of another model and a loader of another seed are refused at join, naming the key",
          "[multiprocess][e2e][fingerprint]") {
  // Which node runs another job, the argument that makes it so, and what its refusal must name.
  struct odd_one {
    std::string node, role;
    std::vector<std::string> args;
    std::string names;
  };
  test::scratch_dir dir("fingerprint");
  const auto other_model = dir.path / "tanh_cnn.yaml";
  {
    std::string text = slurp(test::source_dir() + "/examples/models/fmnist_cnn.yaml");
    const auto at = text.find("relu");
    REQUIRE(at != std::string::npos);
    text.replace(at, 4, "tanh");
    std::ofstream(other_model) << text;
  }
  const auto which = GENERATE_COPY(values<odd_one>({
      {"t1", "trainer", {"--set", "job.model=" + other_model.string()}, "'relu' here, 'tanh' on node 't1'"},
      {"loader", "loader", {"--set", "job.seed=2"}, "job.seed: '5' here, '2' on node 'loader'"},
  }));
  CAPTURE(which.node);
  test::cluster_case c;
  c.transport = "ipc";
  c.max_train = 640;
  c.max_test = 100;
  const auto config = dir.path / "topology.yaml";
  std::ofstream(config) << test::topology_yaml(c, dir.path);
  std::map<std::string, pid_t> pids;
  for (const auto& [name, role] : std::vector<std::pair<std::string, std::string>>{
           {"agg", "aggregator"}, {"loader", "loader"}, {"t0", "trainer"}, {"t1", "trainer"}}) {
    std::vector<std::string> args{TROUPE_NODE_BINARY, "--role", role, "--name", name, "--config", config.string()};
    if (name == which.node)
      args.insert(args.end(), which.args.begin(), which.args.end());
    pids[name] = launch(args, (dir.path / (name + ".log")).string());
  }
  // The odd one is refused at every attempt, so its supervisor escalates and its process exits 1.
  int status = -1;
  bool exited = false;
  for (int i = 0; i < 600 && !exited; ++i) {
    exited = ::waitpid(pids[which.node], &status, WNOHANG) == pids[which.node];
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The others never started training: stop them (gracefully) and collect everything.
  for (auto& [name, pid] : pids)
    if (name != which.node)
      ::kill(pid, exited ? SIGTERM : SIGKILL);
  if (!exited)
    ::kill(pids[which.node], SIGKILL);
  std::string logs;
  for (auto& [name, pid] : pids) {
    if (name != which.node || !exited)
      ::waitpid(pid, nullptr, 0);
    logs += "---- " + name + "\n" + slurp(dir.path / (name + ".log"));
  }
  INFO(logs);
  REQUIRE(exited);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(slurp(dir.path / (which.node + ".log")), Catch::Matchers::Contains(which.names));
  CHECK_THAT(slurp(dir.path / "agg.log"),
             Catch::Matchers::Contains("it runs another job") && Catch::Matchers::Contains(which.names));
  CHECK(slurp(dir.path / "agg.log").find("=> done") == std::string::npos); // the job never trained
}

namespace {

/// Resident set of process `pid` in bytes (0 if it is gone).
std::size_t rss_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  std::size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

} // namespace

TEST_CASE("a flood of messages to made-up actors keeps the aggregator's memory flat and is counted",
          "[multiprocess][faults][flood]") {
  test::scratch_dir dir("flood");
  test::cluster_case c;
  c.transport = "ipc";
  c.epochs = 50; // only the test's SIGTERM ends it
  c.max_train = 3200;
  c.max_test = 100;
  c.print_freq = 10;
  const auto config = dir.path / "topology.yaml";
  std::ofstream(config) << test::topology_yaml(c, dir.path);
  std::map<std::string, pid_t> pids;
  for (const auto& [name, role] : std::vector<std::pair<std::string, std::string>>{
           {"agg", "aggregator"}, {"loader", "loader"}, {"t0", "trainer"}, {"t1", "trainer"}})
    pids[name] = launch({TROUPE_NODE_BINARY, "--role", role, "--name", name, "--config", config.string()},
                        (dir.path / (name + ".log")).string());
  auto stop_all = [&] {
    for (auto& [name, pid] : pids)
      ::kill(pid, SIGTERM);
    std::string logs;
    for (auto& [name, pid] : pids) {
      ::waitpid(pid, nullptr, 0);
      logs += "---- " + name + "\n" + slurp(dir.path / (name + ".log"));
    }
    return logs;
  };
  // Training runs (the aggregator reported progress): its memory now is the baseline.
  bool training = false;
  for (int i = 0; i < 600 && !training; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (const auto& rec : test::read_records(dir.path / "metrics" / "agg.jsonl"))
      training = training || (rec.value("actor", "") == "aggregator" && rec.contains("loss"));
  }
  if (!training) {
    INFO(stop_all());
    FAIL("the cluster did not start training within 60 s");
  }
  const std::size_t before = rss_of(pids["agg"]);
  // 20,000 messages of 16 KiB, each naming 64 made-up actors: 320 MB if anything were kept.
  constexpr int messages = 20000;
  std::uint64_t sent = 0;
  {
    net::van_options vo;
    vo.node_name = "intruder";
    vo.cluster_id = net::cluster_id_of("test-cluster");
    net::van evil(vo);
    evil.connect("agg", "ipc://" + (dir.path / "sockets" / "agg.sock").string());
    std::vector<std::string> ghosts;
    for (int i = 0; i < 64; ++i)
      ghosts.push_back("ghost-" + std::to_string(i));
    for (int i = 0; i < messages; ++i) {
      net::message m(net::msg_type::push_gradient);
      m.h.to = ghosts;
      m.add_tensor("junk", {4096}, std::vector<float>(4096, 1.f));
      evil.send("agg", std::move(m));
      if (i % 1000 == 999) // paced, so the flood is received rather than dropped at the sender
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    evil.stop();
    sent = evil.counters().messages_sent; // what left the flooder (its queue drops past the high-water mark)
  }
  const std::size_t after = rss_of(pids["agg"]);
  const auto logs = stop_all();
  INFO(logs);
  INFO("aggregator RSS before " << before / 1e6 << " MB, after " << after / 1e6 << " MB");
  CHECK(after < before + 50'000'000);
  std::uint64_t refused = 0;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "agg.jsonl"))
    if (rec.value("actor", "") == "van" && rec.contains("rejected_by_reason"))
      refused = rec["rejected_by_reason"].value("unauthenticated", std::uint64_t{0});
  INFO(sent << " messages sent, " << refused << " refused");
  CHECK(sent >= messages / 4);       // at least 5,000 messages (80 MB) reached the aggregator's node
  CHECK(refused >= sent * 95 / 100); // counted: (nearly) every message that reached the aggregator's node
}
