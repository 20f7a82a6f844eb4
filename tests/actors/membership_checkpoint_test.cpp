// The membership is part of the checkpoint (#14): a trainer that was out of the job when a
// checkpoint was taken (on_trainer_loss: shrink; here a free place of an elastic job nobody took)
// is recorded there, and a job resumed from it does not wait for that trainer — without the record
// the resumed job would wait for its hello until the idle limit and fail.

#include <sstream>

#include "actors/node.hpp"
#include "config/topology.hpp"
#include "runtime/rendezvous.hpp"

#include "cluster_test_util.hpp"

using namespace troupe;

namespace {

/// agg + loader + t0 over tcp in this process; t1 at `t1_endpoint` ("later": a free place).
std::string yaml(const std::filesystem::path& dir, const std::string& t1_endpoint, std::size_t epochs) {
  return fmt::format(R"(cluster:
  id: membership-ck
  connect_timeout_s: 20
  launch: {{}}
  nodes:
    - {{name: agg, roles: [aggregator, loader], endpoint: "tcp://127.0.0.1:*"}}
    - {{name: t0, roles: [trainer], endpoint: "tcp://127.0.0.1:*"}}
    - {{name: t1, roles: [trainer], endpoint: "{t1}"}}
job:
  model: {model}
  data: {{max_train: 320, max_test: 64}}
  batch_size: 16
  epochs: {epochs}
  seed: 3
  optimizer: {{kind: sgd, lr: 0.05, momentum: 0.9}}
  consistency: {{mode: bsp}}
  on_trainer_loss: shrink
checkpoint:
  dir: {dir}/checkpoints
  every_steps: 5
metrics:
  dir: {dir}/metrics
  console: false
)",
                     fmt::arg("t1", t1_endpoint),
                     fmt::arg("model", test::source_dir() + "/examples/models/fmnist_cnn.yaml"),
                     fmt::arg("epochs", epochs), fmt::arg("dir", dir.string()));
}

int run(const std::string& text, std::ostringstream& console) {
  const auto topo = config::parse_topology(text, "membership.yaml");
  actors::run_options o;
  o.nodes = {"agg", "t0"}; // t1 never runs
  o.out = &console;
  return actors::run_nodes(topo, o);
}

} // namespace

TEST_CASE("a trainer out of the job at a checkpoint is recorded there, and the resumed job does not wait for it",
          "[actors][cluster][membership]") {
  test::scratch_dir dir("membership-ck");
  std::ostringstream first, second;
  // 1 epoch with t1's place free: 10 clocks of t0 alone, checkpoints at steps 5 and 10.
  REQUIRE(run(yaml(dir.path, "later", 1), first) == 0);
  INFO(first.str());

  // The same job, now 2 epochs, with t1 a node of its own that never starts (nothing listens at its
  // address): the checkpoint says t1 was out of the job, so the resumed job starts without it.
  runtime::reserved_port nobody("127.0.0.1");
  const auto t1 = fmt::format("tcp://127.0.0.1:{}", nobody.port());
  // (Without the record it would wait for t1's hello, give up at the idle limit and exit 1.)
  REQUIRE(run(yaml(dir.path, t1, 2), second) == 0);
  INFO(second.str());

  const auto records = test::read_records(dir.path / "metrics" / "agg.jsonl");
  bool resumed = false, absent = false, done = false;
  for (const auto& r : records) {
    resumed = resumed || r.value("event", "") == "resume";
    absent =
        absent || (r.value("event", "") == "membership" &&
                   r.value("reason", "").find("absent in the checkpoint resumed from: trainer-1") != std::string::npos);
    done = done || (r.value("event", "") == "finish" && r.value("reason", "") == "done" && r.value("version", 0) == 20);
  }
  CHECK(resumed);
  CHECK(absent);
  CHECK(done);
}
