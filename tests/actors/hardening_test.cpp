// What an operator or a flaky machine can do to a running job (#17), inside one test process: a
// second run on the same directories is refused at once naming the holder; a full disk under
// either write-error policy ends the job as documented with earlier checkpoints intact.

#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "actors/node.hpp"
#include "common/error.hpp"
#include "config/topology.hpp"
#include "data/fashion_mnist.hpp"
#include "train/checkpoint_store.hpp"
#include "train/gradient_engine.hpp"

#include "tests/support/tiny_tmpfs.hpp"

#include "cluster_test_util.hpp"

using namespace troupe;
using namespace std::chrono_literals;

namespace {

/// Waits (bounded) until `ready()` holds.
template <class Ready>
bool wait_for(Ready ready, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!ready() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  return ready();
}

bool has_progress(const std::filesystem::path& log) {
  for (const auto& rec : test::read_records(log))
    if (rec.value("actor", "") == "aggregator" && rec.contains("loss"))
      return true;
  return false;
}

struct running_cluster {
  config::topology topo;
  std::atomic<bool> stop{false};
  std::ostringstream console;
  std::future<int> done;

  running_cluster(const test::cluster_case& c, const std::filesystem::path& dir)
      : topo(config::parse_topology(test::topology_yaml(c, dir), "test.yaml")) {
    actors::run_options o;
    for (const auto& n : topo.cluster.nodes)
      o.nodes.push_back(n.name);
    o.out = &console;
    o.stop = &stop;
    done = std::async(std::launch::async, [this, o] { return actors::run_nodes(topo, o); });
  }
  int finish() {
    stop = true;
    return done.get();
  }
};

} // namespace

TEST_CASE("a second run on the same checkpoint directory is refused at once, naming the holder",
          "[actors][cluster][faults][lock]") {
  test::scratch_dir dir("lock");
  test::cluster_case c;
  c.epochs = 50; // long enough to still run while the second one tries
  c.print_freq = 1;
  running_cluster first(c, dir.path);
  REQUIRE(wait_for([&] { return has_progress(dir.path / "metrics" / "main.jsonl"); }, 60s));
  const auto topo = config::parse_topology(test::topology_yaml(c, dir.path), "test.yaml");
  actors::run_options o;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(actors::run_nodes(topo, o), Catch::Matchers::Contains("is in use by another run") &&
                                                    Catch::Matchers::Contains(fmt::format("pid {}", ::getpid())));
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(first.finish() == 0); // the first run was not disturbed
}

TEST_CASE("a full checkpoint file system: continue trains on and exits 0, stop ends with exit 1, earlier "
          "checkpoints stay intact",
          "[actors][cluster][faults][write_error]") {
  const std::string policy = GENERATE(as<std::string>{}, "continue", "stop");
  CAPTURE(policy);
  test::scratch_dir dir("disk-full");
  // 3 MB: the first checkpoint (parameters + momentum, 1.8 MB) fits; the second one does not.
  test::tiny_tmpfs disk(dir.path / "checkpoints", "3m");
  if (!disk.usable())
    return;
  test::cluster_case c;
  c.max_train = 1280; // 40 clocks of 2 x 16
  const auto topo = config::parse_topology(test::topology_yaml(c, dir.path), "test.yaml",
                                           {{"checkpoint.every_steps", "5"}, {"checkpoint.on_write_error", policy}});
  actors::run_options o;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  const int code = actors::run_nodes(topo, o);
  INFO(console.str());
  std::size_t failures = 0;
  std::string reason;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "main.jsonl")) {
    if (rec.value("event", "") == "write_failed") {
      ++failures;
      CHECK_THAT(rec["error"].get<std::string>(), Catch::Matchers::Contains("No space left on device"));
      CHECK(rec["policy"] == policy);
    }
    if (rec.value("event", "") == "finish")
      reason = rec["reason"].get<std::string>();
  }
  CHECK(failures >= 1);
  if (policy == "continue") {
    CHECK(code == 0);
    CHECK(reason == "done");
  } else {
    CHECK(code == 1);
    CHECK_THAT(reason, Catch::Matchers::Contains("could not write") &&
                           Catch::Matchers::Contains((dir.path / "checkpoints" / "ckpt-").string()));
  }
  // The checkpoint written before the disk filled up still loads.
  train::checkpoint_store store((dir.path / "checkpoints").string(), 3);
  const auto model = config::load_job_model(topo);
  const auto loaded = store.load_latest(model.name, train::gradient_engine(model, 1, 1).layout());
  REQUIRE(loaded);
  CHECK(loaded->state.global_step == 5);
}

TEST_CASE("a plaintext ipc socket in a directory other users can enter is refused, naming it and its mode",
          "[actors][cluster][lock]") {
  test::scratch_dir dir("open-socket-dir");
  test::cluster_case c;
  c.transport = "ipc";
  std::string yaml = test::topology_yaml(c, dir.path);
  // Every socket in dir/open, a directory anyone may enter (as /tmp is).
  for (std::size_t at; (at = yaml.find("/sockets/")) != std::string::npos;)
    yaml.replace(at, 9, "/open/");
  std::filesystem::create_directories(dir.path / "open");
  std::filesystem::permissions(dir.path / "open", std::filesystem::perms::all);
  const auto topo = config::parse_topology(yaml, "test.yaml");
  actors::run_options o;
  for (const auto& n : topo.cluster.nodes)
    o.nodes.push_back(n.name);
  std::ostringstream console;
  o.out = &console;
  CHECK_THROWS_WITH(actors::run_nodes(topo, o),
                    Catch::Matchers::Contains("can be entered by other local users (mode 0777)") &&
                        Catch::Matchers::Contains((dir.path / "open").string()));
}

TEST_CASE("a run that fails after its actors started says so as its last record and a finished run says done",
          "[actors][hardening]") {
  // #16 item 4: a data directory whose test images are truncated (the loader reads the training
  // files only, so the aggregator fails at start, again at each restart, and the node gives up).
  test::scratch_dir dir("node-exit");
  const auto data = dir.path / "data";
  std::filesystem::create_directories(data);
  for (const auto& f : std::filesystem::directory_iterator(data::fashion_mnist::default_dir))
    std::filesystem::copy_file(f.path(), data / f.path().filename());
  std::filesystem::resize_file(data / "t10k-images-idx3-ubyte.gz", 20000);
  test::cluster_case c;
  c.max_train = 128;
  const auto last_record = [&](const config::topology& topo) {
    actors::run_options o;
    for (const auto& n : topo.cluster.nodes)
      o.nodes.push_back(n.name);
    std::ostringstream console;
    o.out = &console;
    const int code = actors::run_nodes(topo, o);
    const auto records = test::read_records(dir.path / "metrics" / "main.jsonl");
    REQUIRE_FALSE(records.empty());
    return std::make_pair(code, records.back());
  };
  const auto [failed_code, failed] = last_record(
      config::parse_topology(test::topology_yaml(c, dir.path), "test.yaml", {{"job.data.dir", data.string()}}));
  INFO(failed.dump());
  CHECK(failed_code == 1);
  CHECK(failed.value("event", "") == "node_exit");
  CHECK(failed.value("outcome", "") == "failed");
  CHECK(failed.value("exit_code", 0) == 1);
  CHECK_THAT(failed.value("reason", ""), Catch::Contains("aggregator") && Catch::Contains("t10k-images-idx3-ubyte.gz"));

  std::filesystem::remove_all(dir.path / "metrics");
  std::filesystem::remove_all(dir.path / "checkpoints");
  const auto [done_code, done] = last_record(config::parse_topology(test::topology_yaml(c, dir.path), "test.yaml"));
  INFO(done.dump());
  CHECK(done_code == 0);
  CHECK(done.value("event", "") == "node_exit");
  CHECK(done.value("outcome", "") == "done");
}
