// Whole clusters in the test process under faults the aggregator handles itself: a trainer node
// lost and back under on_trainer_loss: shrink, one gone for good under wait, and a diverging run whose non-finite
// gradients are refused until the refusals in a row stop the job.

#include "actors/node.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <sstream>
#include <thread>

#include "config/topology.hpp"
#include "train/model_file.hpp"

#include "cluster_test_util.hpp"

using namespace troupe;

namespace {

std::vector<nlohmann::json> events_of(const std::filesystem::path& file, const std::string& event) {
  std::vector<nlohmann::json> out;
  if (!std::filesystem::exists(file))
    return out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) { // the file is live: skip a half-written last line
    const auto rec = nlohmann::json::parse(line, nullptr, false);
    if (rec.is_object() && rec.value("event", "") == event)
      out.push_back(rec);
  }
  return out;
}

void insert_after(std::string& yaml, const std::string& anchor, const std::string& text) {
  const auto pos = yaml.find(anchor);
  REQUIRE(pos != std::string::npos);
  yaml.insert(pos + anchor.size(), text);
}

/// The lost-node tests' job: 2 trainer nodes (t0, t1) beside agg and loader over ipc://, 100
/// clocks per epoch with no empty batch (one update per clock), heartbeats every 0.2 s and no
/// trainer restarts, plus `cluster_keys` (YAML lines under `cluster:`).
std::string lost_node_yaml(const std::filesystem::path& dir, const std::string& cluster_keys) {
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 2;
  c.batch = 16;
  c.epochs = 2;
  c.max_train = 3200;
  c.max_test = 200;
  c.print_freq = 10;
  auto yaml = test::topology_yaml(c, dir);
  insert_after(yaml, "connect_timeout_s: 20\n",
               "  heartbeat_s: 0.2\n" + cluster_keys + "  supervisor: {max_restarts: 0}\n");
  return yaml;
}

/// Runs `nodes` of `topo` in this process (one run_nodes, as one troupe-node process would).
int run_part(const config::topology& topo, std::vector<std::string> nodes, std::ostringstream* console,
             std::map<std::size_t, double> slow, std::map<std::size_t, std::uint64_t> fail) {
  actors::run_options o;
  o.nodes = std::move(nodes);
  o.out = console;
  o.slow_trainers = std::move(slow);
  o.fail_trainers = std::move(fail);
  return actors::run_nodes(topo, o);
}

} // namespace

TEST_CASE("shrink: a bsp job goes on without a lost trainer node and takes it back when it returns",
          "[actors][cluster][membership][faults]") {
  // Nodes agg + loader + t0 run in one run_nodes, t1 in another (both in this process, over
  // ipc://). t1's only trainer throws at clock 5 and its supervisor may not restart it, so its
  // node exits and its heartbeats stop: lost after 3 heartbeats. Then t1 starts again.
  test::scratch_dir dir("shrink");
  auto yaml = lost_node_yaml(dir.path, "");
  insert_after(yaml, "job:\n", "  on_trainer_loss: shrink\n");
  const auto topo = config::parse_topology(yaml, "test.yaml");
  REQUIRE(topo.job.on_trainer_loss == config::trainer_loss_policy::shrink);

  std::ostringstream console_main, console_t1, console_t1_again;
  auto run = [&](std::vector<std::string> nodes, std::ostringstream* console, std::map<std::size_t, double> slow,
                 std::map<std::size_t, std::uint64_t> fail) {
    return run_part(topo, std::move(nodes), console, std::move(slow), std::move(fail));
  };
  // t0 slowed 3x so that the job outlasts the loss detection and the rejoin by a wide margin.
  auto main_run = std::async(std::launch::async, run, std::vector<std::string>{"agg", "loader", "t0"}, &console_main,
                             std::map<std::size_t, double>{{0, 3.0}}, std::map<std::size_t, std::uint64_t>{});
  auto t1_run = std::async(std::launch::async, run, std::vector<std::string>{"t1"}, &console_t1,
                           std::map<std::size_t, double>{}, std::map<std::size_t, std::uint64_t>{{1, 5}});
  REQUIRE(t1_run.get() == 1); // its supervisor escalated: the node is gone

  const auto agg_log = dir.path / "metrics" / "agg.jsonl";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (events_of(agg_log, "membership").empty() && std::chrono::steady_clock::now() < deadline &&
         main_run.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
  }
  const auto shrunk = events_of(agg_log, "membership");
  REQUIRE(shrunk.size() == 1);
  CHECK(shrunk[0]["trainers"] == 1);
  CHECK(shrunk[0]["lost"] == nlohmann::json::array({"trainer-1"}));
  CHECK(shrunk[0]["reason"].get<std::string>().find("node 't1' lost") != std::string::npos);
  CHECK(shrunk[0]["clock"] == 5); // the round of clock 5 closed without trainer-1

  // Let trainer-0 train alone for a while: the aggregator reaches clock 20 without trainer-1.
  auto slowest_clock = [&] {
    std::uint64_t clock = 0;
    std::ifstream in(agg_log);
    std::string line;
    while (std::getline(in, line)) {
      const auto rec = nlohmann::json::parse(line, nullptr, false);
      if (rec.is_object() && rec.value("actor", "") == "aggregator" && rec.contains("loss"))
        clock = std::max(clock, rec.value("step", std::uint64_t{0}));
    }
    return clock;
  };
  while (slowest_clock() < 20 && std::chrono::steady_clock::now() < deadline &&
         main_run.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
  }
  REQUIRE(slowest_clock() >= 20);

  auto t1_again = std::async(std::launch::async, run, std::vector<std::string>{"t1"}, &console_t1_again,
                             std::map<std::size_t, double>{}, std::map<std::size_t, std::uint64_t>{});
  const int main_code = main_run.get();
  const int again_code = t1_again.get();
  INFO(console_main.str());
  REQUIRE(main_code == 0);
  REQUIRE(again_code == 0);

  const auto membership = events_of(agg_log, "membership");
  REQUIRE(membership.size() == 2);
  CHECK(membership[1]["trainers"] == 2);
  CHECK(membership[1]["lost"].empty());
  CHECK(membership[1]["reason"].get<std::string>().find("node 't1' back") != std::string::npos);
  const auto back_at = membership[1]["clock"].get<std::uint64_t>();
  CHECK(back_at >= 20);
  CHECK(back_at < 200);
  const auto finish = events_of(agg_log, "finish");
  REQUIRE(finish.size() == 1);
  CHECK(finish[0]["reason"] == "done");
  CHECK(finish[0]["version"] == 200); // every round was applied, with one trainer or two

  // The returning trainer took part from its rejoin clock to the end.
  std::uint64_t last_clock = 0;
  bool after_rejoin = false;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "t1.jsonl")) {
    if (rec.value("actor", "") != "trainer-1" || !rec.contains("loss"))
      continue;
    const auto clock = rec["clock"].get<std::uint64_t>();
    after_rejoin = after_rejoin || clock > back_at;
    last_clock = std::max(last_clock, clock);
  }
  CHECK(after_rejoin);
  CHECK(last_clock == 200);
  const auto params = train::load_model((dir.path / "checkpoints" / "model_final.trpm").string()).params;
  REQUIRE(params.size() > 0);
}

TEST_CASE("wait: a trainer node gone for longer than trainer_gone_after_s ends the job, naming it",
          "[actors][cluster][membership][faults]") {
  // As above, but with on_trainer_loss: wait (the default) and t1 never comes back: the bsp round
  // of clock 5 can never close. The job must end on its own, in failure, saying which node.
  test::scratch_dir dir("trainer-gone");
  const auto topo = config::parse_topology(lost_node_yaml(dir.path, "  trainer_gone_after_s: 2\n"), "test.yaml");
  REQUIRE(topo.job.on_trainer_loss == config::trainer_loss_policy::wait);

  std::ostringstream console_main, console_t1;
  auto run = [&](std::vector<std::string> nodes, std::ostringstream* console,
                 std::map<std::size_t, std::uint64_t> fail) {
    return run_part(topo, std::move(nodes), console, {}, std::move(fail));
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto main_run = std::async(std::launch::async, run, std::vector<std::string>{"agg", "loader", "t0"}, &console_main,
                             std::map<std::size_t, std::uint64_t>{});
  auto t1_run = std::async(std::launch::async, run, std::vector<std::string>{"t1"}, &console_t1,
                           std::map<std::size_t, std::uint64_t>{{1, 5}});
  REQUIRE(t1_run.get() == 1); // its supervisor escalated: the node is gone
  const auto t1_gone = std::chrono::steady_clock::now();
  // Far below the idle limit (60 s), which the other nodes' heartbeats keep from firing anyway.
  REQUIRE(main_run.wait_for(std::chrono::seconds(40)) == std::future_status::ready);
  const int main_code = main_run.get();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1_gone).count();
  INFO(console_main.str());
  CHECK(main_code != 0);
  CHECK(waited >= 2.0); // it did wait the time given
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 40);

  const auto agg_log = dir.path / "metrics" / "agg.jsonl";
  const auto lost = events_of(agg_log, "peer_lost");
  REQUIRE(lost.size() == 1);
  CHECK(lost[0]["target"] == "t1");
  const auto finish = events_of(agg_log, "finish");
  REQUIRE(finish.size() == 1);
  const auto reason = finish[0]["reason"].get<std::string>();
  CHECK(reason.find("node 't1' (trainer-1) has been silent") != std::string::npos);
  CHECK(reason.find("cluster.trainer_gone_after_s (2 s)") != std::string::npos);
  CHECK(finish[0]["version"] == 5);                // rounds 0..4 applied; the round of clock 5 never closed
  CHECK(events_of(agg_log, "membership").empty()); // wait: nobody was dropped from the job
}

TEST_CASE("a diverging run's non-finite gradients are refused, and refusals in a row stop the job",
          "[actors][cluster][faults]") {
  test::scratch_dir dir("diverge");
  test::cluster_case c;
  c.trainers = 2;
  c.max_train = 640;
  auto yaml = test::topology_yaml(c, dir.path);
  // A learning rate no model survives: after the first steps the logits overflow and every
  // gradient is NaN; three refusals in a row from one trainer end the job with an error.
  const auto lr = yaml.find("lr: 0.05");
  REQUIRE(lr != std::string::npos);
  yaml.replace(lr, 8, "lr: 1.0e+30");
  insert_after(yaml, "job:\n", "  max_refused_in_a_row: 3\n");
  const auto topo = config::parse_topology(yaml, "test.yaml");
  actors::run_options o;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  REQUIRE(actors::run_nodes(topo, o) == 1);
  const auto log = dir.path / "metrics" / "main.jsonl";
  const auto refused = events_of(log, "gradient_refused");
  REQUIRE(refused.size() >= 3);
  for (const auto& r : refused) {
    CHECK(r["nan"].get<std::size_t>() + r["inf"].get<std::size_t>() > 0);
    CHECK(!r["params"].empty());
    CHECK(r["target"].get<std::string>().rfind("trainer-", 0) == 0);
  }
  const auto finish = events_of(log, "finish");
  REQUIRE(finish.size() == 1);
  CHECK(finish[0]["reason"].get<std::string>().find("non-finite gradients in a row") != std::string::npos);
}
