#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "common/error.hpp"
#include "config/topology.hpp"
#include "topology_fixtures.hpp"

using Catch::Contains;
using Catch::Equals;
using Catch::StartsWith;
using troupe::config::consistency;
using troupe::config::find_node;
using troupe::config::load_job_model;
using troupe::config::load_topology;
using troupe::config::parse_topology;
using troupe::config::role;
using troupe::config::topology;
using troupe::config::transport;
using troupe_test::agg;
using troupe_test::check_rejected;
using troupe_test::doc;
using troupe_test::example;
using troupe_test::ld;
using troupe_test::model_line;
using troupe_test::roles;
using troupe_test::sets;
using troupe_test::three;
using troupe_test::tr;

TEST_CASE("the shipped fmnist-local.yaml is one node running everything in-process", "[config][topology]") {
  const std::string path = example("fmnist-local.yaml");
  const topology t = load_topology(path);
  CHECK(t.source == path);
  CHECK(t.cluster.id == "fmnist-local");
  REQUIRE(t.cluster.nodes.size() == 1);
  const auto& main = t.cluster.nodes[0];
  CHECK(main.name == "main");
  CHECK(main.roles == roles({role::aggregator, role::loader, role::trainer}));
  CHECK(main.endpoint == "inproc://main");
  CHECK(main.address.kind == transport::inproc);
  CHECK(main.trainers == 2);
  CHECK(main.threads == 1);
  CHECK_THAT(main.where, StartsWith(path + ":"));
  CHECK(total_trainers(t.cluster) == 2);

  CHECK(t.job.model == example("models/fmnist_cnn_bn.yaml"));
  CHECK(t.job.data.dir == "/usr/share/datasets/fashion-mnist");
  CHECK(t.job.batch_size == 32);
  CHECK(t.job.epochs == 6);
  CHECK(t.job.optimizer.kind == "sgd");
  CHECK(t.job.optimizer.lr == 0.05f);
  CHECK(t.job.optimizer.momentum == 0.9f);
  CHECK(t.job.optimizer.weight_decay == 5e-4f);
  CHECK(t.job.schedule.kind == "cosine");
  CHECK(t.job.consistency.mode == consistency::bsp);
  CHECK(t.checkpoint.dir == "runs/fmnist-local/checkpoints");
  CHECK(t.metrics.dir == "runs/fmnist-local/metrics");
  // The model file it names is the reference CNN with batch norm.
  CHECK(load_job_model(t).name == "fmnist-cnn-bn");
}

TEST_CASE("the shipped fmnist-2trainers.yaml is four nodes on ipc sockets in one private directory",
          "[config][topology]") {
  const topology t = load_topology(example("fmnist-2trainers.yaml"));
  CHECK(t.cluster.id == "fmnist-2trainers");
  REQUIRE(t.cluster.nodes.size() == 4);
  CHECK(find_node(t, "agg").roles == roles({role::aggregator}));
  CHECK(find_node(t, "agg").endpoint == "ipc://runs/fmnist-2trainers/sockets/agg.sock");
  CHECK(find_node(t, "agg").trainers == 0);
  CHECK(find_node(t, "loader").roles == roles({role::loader}));
  for (const char* name : {"t0", "t1"}) {
    const auto& node = find_node(t, name);
    CHECK(node.roles == roles({role::trainer}));
    CHECK(node.trainers == 1);
    CHECK(node.endpoint == std::string("ipc://runs/fmnist-2trainers/sockets/") + name + ".sock");
  }
  CHECK_FALSE(t.cluster.security.curve); // ipc is local: the directory's mode guards it
  CHECK(total_trainers(t.cluster) == 2);
  CHECK(t.job.consistency.mode == consistency::bsp);
  CHECK(t.job.batch_size == 32);
  CHECK(t.job.model == example("models/fmnist_cnn.yaml"));
  CHECK(t.checkpoint.dir == "runs/fmnist-2trainers/checkpoints");
  CHECK(t.checkpoint.every_steps == 500);
}

TEST_CASE("the shipped fmnist-ssp.yaml allows a staleness of 3", "[config][topology]") {
  const topology t = load_topology(example("fmnist-ssp.yaml"));
  CHECK(t.cluster.id == "fmnist-ssp");
  CHECK(t.cluster.nodes.size() == 4);
  CHECK(total_trainers(t.cluster) == 2);
  CHECK(t.job.consistency.mode == consistency::ssp);
  CHECK(t.job.consistency.staleness == 3);
  CHECK(to_string(t.job.consistency.mode) == "ssp");
}

TEST_CASE("absent keys take their documented defaults", "[config][topology]") {
  const topology t = parse_topology(doc(three), "t.yaml");
  CHECK(t.source == "t.yaml");
  CHECK(t.cluster.connect_timeout_s == 30);
  CHECK(t.cluster.heartbeat_s == 1);
  CHECK(t.cluster.nodes[0].trainers == 0);
  CHECK(t.cluster.nodes[0].threads == 1);
  CHECK(t.cluster.nodes[0].where == "t.yaml:4:7");
  CHECK(t.job.model == "m.yaml");
  CHECK(t.job.model_where == "t.yaml:8:10");
  CHECK(t.job.data.dir == "/usr/share/datasets/fashion-mnist");
  CHECK(t.job.data.max_train == 0);
  CHECK_FALSE(t.job.data.normalize);
  CHECK(t.job.batch_size == 64);
  CHECK(t.job.epochs == 5);
  CHECK(t.job.seed == 1);
  CHECK(t.job.optimizer.kind == "sgd");
  CHECK(t.job.optimizer.lr == 0.05f);
  CHECK(t.job.optimizer.weight_decay == 5e-4f);
  CHECK(t.job.optimizer.beta2 == 0.999f);
  CHECK(t.job.schedule.kind == "cosine");
  CHECK(t.job.schedule.step_epochs == 30);
  CHECK(t.job.schedule.warmup_start_factor == 0.1f);
  CHECK(t.job.consistency.mode == consistency::bsp);
  CHECK(t.job.consistency.staleness == 0);
  CHECK(t.job.evaluation.every_epochs == 1);
  CHECK(t.job.evaluation.every_steps == 0);
  CHECK(t.checkpoint.dir == "runs/c/checkpoints");
  CHECK(t.checkpoint.every_steps == 0);
  CHECK(t.checkpoint.every_seconds == 0);
  CHECK(t.checkpoint.keep == 3);
  CHECK(t.metrics.dir == "runs/c/metrics");
  CHECK(t.metrics.print_freq == 100);
  CHECK(t.metrics.console);

  // A trainer node without `trainers` runs one; ssp without `staleness` has staleness 0.
  const topology u =
      parse_topology(doc("    - {name: a, roles: [aggregator, loader, trainer], endpoint: 'inproc://a'}\n",
                         "  model: m.yaml\n  consistency: {mode: ssp}\n"),
                     "t.yaml");
  CHECK(u.cluster.nodes[0].trainers == 1);
  CHECK(u.job.consistency.mode == consistency::ssp);
  CHECK(u.job.consistency.staleness == 0);
}

TEST_CASE("every key is read when given", "[config][topology]") {
  const topology t = parse_topology(R"(cluster:
  id: full.run-1
  connect_timeout_s: 5.5
  heartbeat_s: 0.25
  nodes:
    - name: main
      roles: [trainer, loader, aggregator]
      endpoint: tcp://[::1]:*
      trainers: 3
      threads: 2
job:
  model: /abs/model.yaml
  data: {dir: data/fmnist, max_train: 1000, max_test: 500, normalize: true}
  batch_size: 16
  epochs: 2
  seed: 18446744073709551615
  optimizer: {kind: adamw, lr: 0.001, momentum: 0, dampening: 0.5, nesterov: false, weight_decay: 0.01,
              beta1: 0.8, beta2: 0.99, eps: 1.0e-6}
  schedule: {kind: step, step_epochs: 10, gamma: 0.5, min_lr: 0.0001, warmup_steps: 100, warmup_start_factor: 0}
  consistency: {mode: asp}
  evaluation: {every_epochs: 0, every_steps: 250}
checkpoint: {dir: /tmp/ck, every_steps: 10, every_seconds: 60, keep: 1}
metrics: {dir: out/m, print_freq: 0, console: false}
)",
                                    "full.yaml", {}, "/etc/troupe");
  CHECK(t.cluster.id == "full.run-1");
  CHECK(t.cluster.connect_timeout_s == 5.5);
  CHECK(t.cluster.heartbeat_s == 0.25);
  const auto& n = t.cluster.nodes.at(0);
  CHECK(n.roles == roles({role::trainer, role::loader, role::aggregator}));
  CHECK(n.address.host == "::1");
  CHECK(n.address.ephemeral());
  CHECK(n.trainers == 3);
  CHECK(n.threads == 2);
  CHECK(t.job.model == "/abs/model.yaml");
  CHECK(t.job.data.dir == "/etc/troupe/data/fmnist"); // an input: relative to the file's directory
  CHECK(t.job.data.max_train == 1000);
  CHECK(t.job.data.max_test == 500);
  CHECK(t.job.data.normalize);
  CHECK(t.job.batch_size == 16);
  CHECK(t.job.epochs == 2);
  CHECK(t.job.seed == 18446744073709551615ull);
  CHECK(t.job.optimizer.kind == "adamw");
  CHECK(t.job.optimizer.lr == 0.001f);
  CHECK(t.job.optimizer.dampening == 0.5f);
  CHECK(t.job.optimizer.weight_decay == 0.01f);
  CHECK(t.job.optimizer.beta1 == 0.8f);
  CHECK(t.job.optimizer.beta2 == 0.99f);
  CHECK(t.job.optimizer.eps == 1e-6f);
  CHECK(t.job.schedule.kind == "step");
  CHECK(t.job.schedule.step_epochs == 10);
  CHECK(t.job.schedule.gamma == 0.5f);
  CHECK(t.job.schedule.min_lr == 0.0001f);
  CHECK(t.job.schedule.warmup_steps == 100);
  CHECK(t.job.schedule.warmup_start_factor == 0.0f);
  CHECK(t.job.consistency.mode == consistency::asp);
  CHECK(t.job.evaluation.every_epochs == 0);
  CHECK(t.job.evaluation.every_steps == 250);
  CHECK(t.checkpoint.dir == "/tmp/ck");
  CHECK(t.checkpoint.every_steps == 10);
  CHECK(t.checkpoint.every_seconds == 60);
  CHECK(t.checkpoint.keep == 1);
  CHECK(t.metrics.dir == "out/m"); // an output: left relative to the working directory
  CHECK(t.metrics.print_freq == 0);
  CHECK_FALSE(t.metrics.console);
}

TEST_CASE("a relative model is resolved against the file's directory", "[config][topology]") {
  CHECK(parse_topology(doc(three), "t.yaml", {}, "examples").job.model == "examples/m.yaml");
  CHECK(parse_topology(doc(three, "  model: ../models/m.yaml\n"), "t.yaml", {}, "/a/b").job.model ==
        "/a/models/m.yaml");
  CHECK(parse_topology(doc(three, "  model: /m.yaml\n"), "t.yaml", {}, "/a/b").job.model == "/m.yaml");

  const auto dir = std::filesystem::temp_directory_path() / "troupe_topology_test";
  std::filesystem::create_directories(dir);
  const auto file = dir / "t.yaml";
  {
    std::ofstream out(file);
    out << doc(three, "  model: models/x.yaml\n  epochs: 0\n");
  }
  REQUIRE_THROWS_WITH(load_topology(file.string()),
                      Equals(file.string() + ":9:11: job.epochs: expected a positive integer, got '0'"));
  const topology t = load_topology(file.string(), sets({"job.epochs=2"}));
  CHECK(t.job.model == (dir / "models/x.yaml").string());
  REQUIRE_THROWS_WITH(load_job_model(t),
                      Equals(file.string() + ":8:10: job.model: " + (dir / "models/x.yaml").string() +
                             ": cannot open: No such file or directory"));
  std::filesystem::remove_all(dir);
  REQUIRE_THROWS_WITH(load_topology(file.string()), StartsWith(file.string() + ": cannot open"));
}

TEST_CASE("overrides (--set) take effect before validation", "[config][topology]") {
  const std::string path = example("fmnist-local.yaml");
  const topology t = load_topology(path, sets({"job.epochs=1", "metrics.dir=/tmp/m", "checkpoint.dir=/tmp/c",
                                               "cluster.nodes[0].trainers=3", "job.consistency.mode=ssp"}));
  CHECK(t.job.epochs == 1);
  CHECK(t.metrics.dir == "/tmp/m");
  CHECK(t.checkpoint.dir == "/tmp/c");
  CHECK(t.cluster.nodes[0].trainers == 3);
  CHECK(t.job.consistency.mode == consistency::ssp);
  CHECK(t.job.consistency.staleness == 0);

  SECTION("sections and keys absent from the file are created") {
    const topology u = load_topology(example("fmnist-2trainers.yaml"),
                                     sets({"job.consistency.mode=ssp", "job.consistency.staleness=2",
                                           "job.data.max_train=100", "job.evaluation.every_steps=10"}));
    CHECK(u.job.consistency.mode == consistency::ssp);
    CHECK(u.job.consistency.staleness == 2);
    CHECK(u.job.data.max_train == 100);
    CHECK(u.job.evaluation.every_steps == 10);
  }
  SECTION("a flow sequence replaces a list") {
    const topology u =
        load_topology(example("fmnist-2trainers.yaml"),
                      sets({"cluster.nodes[0].roles=[aggregator, loader]", "cluster.nodes[1].roles=[trainer]"}));
    CHECK(u.cluster.nodes[0].roles == roles({role::aggregator, role::loader}));
    CHECK(u.cluster.nodes[1].trainers == 1);
    CHECK(total_trainers(u.cluster) == 3);
  }
  SECTION("a model given on the command line is relative to the working directory") {
    CHECK(load_topology(path, sets({"job.model=other/m.yaml"})).job.model == "other/m.yaml");
    CHECK(load_topology(path, sets({"job.model=other/m.yaml"})).job.model_where == "--set job.model=other/m.yaml");
  }
}

TEST_CASE("errors in overridden values name the --set that gave them", "[config][topology]") {
  const std::string path = example("fmnist-2trainers.yaml");
  REQUIRE_THROWS_WITH(load_topology(path, sets({"job.epochs=abc"})),
                      Equals("--set job.epochs=abc: job.epochs: expected a positive integer, got 'abc'"));
  REQUIRE_THROWS_WITH(load_topology(path, sets({"job.epoch=1"})),
                      StartsWith("--set job.epoch=1: job.epoch: unknown key 'epoch' (did you mean 'epochs'?)"));
  REQUIRE_THROWS_WITH(load_topology(path, sets({"cluster.nodes[0].roles=[aggregator, trainr]"})),
                      StartsWith("--set cluster.nodes[0].roles=[aggregator, trainr]: cluster.nodes[0].roles[1]: "
                                 "unknown role 'trainr' (did you mean 'trainer'?)"));
  REQUIRE_THROWS_WITH(
      load_topology(path, sets({"cluster.nodes[3].endpoint=ipc://runs/fmnist-2trainers/sockets/agg.sock"})),
      Equals(
          "--set cluster.nodes[3].endpoint=ipc://runs/fmnist-2trainers/sockets/agg.sock: cluster.nodes[3].endpoint: "
          "endpoint 'ipc://runs/fmnist-2trainers/sockets/agg.sock' is already used by node 'agg' (cluster.nodes[0])"));
  REQUIRE_THROWS_WITH(load_topology(path, sets({"checkpoint.keep=0"})),
                      Equals("--set checkpoint.keep=0: checkpoint.keep: expected a positive integer, got '0'"));
  REQUIRE_THROWS_WITH(load_topology(path, sets({"cluster.nodes[4].name=x"})),
                      Equals("--set cluster.nodes[4].name=x: cluster.nodes[4]: no such element; cluster.nodes has "
                             "4 elements"));
  // An error cited in the file about a part that overrides changed names them.
  REQUIRE_THROWS_WITH(parse_topology(doc(three), "t.yaml", sets({"job.epochs=2", "cluster.nodes[1].roles=[trainer]"})),
                      Equals("t.yaml:4:5: cluster.nodes: no node has the loader role; at least one must "
                             "(after --set cluster.nodes[1].roles=[trainer])"));
  // The problem lies in the file (a staleness key the new mode does not take): the file is cited.
  REQUIRE_THROWS_WITH(load_topology(example("fmnist-ssp.yaml"), sets({"job.consistency.mode=bsp"})),
                      StartsWith(example("fmnist-ssp.yaml") + ":") &&
                          Contains(": job.consistency.staleness: staleness only applies to ssp, but the mode is bsp"));
}

TEST_CASE("find_node names the nodes there are", "[config][topology]") {
  const topology t = parse_topology(doc(three), "t.yaml");
  CHECK(find_node(t, "ld").roles == roles({role::loader}));
  REQUIRE_THROWS_AS(find_node(t, "t1"), troupe::error);
  REQUIRE_THROWS_WITH(find_node(t, "t1"),
                      Equals("t.yaml: no node named 't1' (did you mean 't0'?); the nodes are: agg, ld, t0"));
  REQUIRE_THROWS_WITH(find_node(t, "aggregator"),
                      Equals("t.yaml: no node named 'aggregator'; the nodes are: agg, ld, t0"));
  CHECK(to_string(role::aggregator) == "aggregator");
  CHECK(to_string(consistency::asp) == "asp");
}

TEST_CASE("malformed topology documents are rejected with position, key path and problem", "[config][topology]") {
  check_rejected({
      {"syntax error", doc(three, "  model: [m.yaml\n"), "bad.yaml:9:1", "YAML syntax error", "end of sequence flow"},
      {"not a mapping", "- cluster\n", "bad.yaml:1:1", "", "expected a mapping (key: value), got a sequence"},
      {"missing cluster", "job:\n  model: m.yaml\n", "bad.yaml:1:1", "cluster", "missing required key 'cluster'"},
      {"missing job", "cluster:\n  id: c\n  nodes:\n" + three, "bad.yaml:1:1", "job", "missing required key 'job'"},
      {"misspelt section", doc(three, model_line, "metric:\n  print_freq: 1\n"), "bad.yaml:9:1", "metric",
       "unknown key 'metric' (did you mean 'metrics'?); allowed keys: cluster, job, checkpoint, metrics"},
      {"unknown job key", doc(three, "  model: m.yaml\n  epoch: 3\n"), "bad.yaml:9:3", "job.epoch",
       "unknown key 'epoch' (did you mean 'epochs'?)"},
      {"unknown node key", doc("    - {name: agg, roles: [aggregator], endpont: 'tcp://127.0.0.1:5701'}\n" + ld + tr),
       "bad.yaml:4:40", "cluster.nodes[0].endpont",
       "unknown key 'endpont' (did you mean 'endpoint'?); allowed keys: name, roles, endpoint, trainers, threads"},
      {"unknown optimizer key", doc(three, "  model: m.yaml\n  optimizer: {kind: sgd, moment: 0.9}\n"), "bad.yaml:9:26",
       "job.optimizer.moment", "unknown key 'moment' (did you mean 'momentum'?)"},
      {"epochs not a number", doc(three, "  model: m.yaml\n  epochs: abc\n"), "bad.yaml:9:11", "job.epochs",
       "expected a positive integer, got 'abc'"},
      {"section of the wrong kind", doc(three, "  model: m.yaml\n  optimizer: sgd\n"), "bad.yaml:9:14", "job.optimizer",
       "expected a mapping (key: value), got 'sgd'"},
      {"trainers a list", doc(agg + ld + "    - {name: t0, roles: [trainer], endpoint: 'ipc://t', trainers: [1]}\n"),
       "bad.yaml:6:67", "cluster.nodes[2].trainers", "expected a non-negative integer, got a sequence"},
      {"missing model", doc(three, "  epochs: 1\n"), "bad.yaml:8:3", "job.model", "missing required key 'model'"},
      {"empty model", doc(three, "  model: ''\n"), "bad.yaml:8:10", "job.model",
       "expected a path, got an empty string"},
      {"missing cluster id", "cluster:\n  nodes:\n" + three + "job:\n" + model_line, "bad.yaml:2:3", "cluster.id",
       "missing required key 'id'"},
      {"cluster id with a slash", "cluster:\n  id: a/b\n  nodes:\n" + three + "job:\n" + model_line, "bad.yaml:2:7",
       "cluster.id",
       "expected a cluster id of letters, digits, '_', '-' and '.' starting with a letter or digit, "
       "got 'a/b'"},
      {"negative connect timeout",
       "cluster:\n  id: c\n  connect_timeout_s: -1\n  nodes:\n" + three + "job:\n" + model_line, "bad.yaml:3:22",
       "cluster.connect_timeout_s", "expected a positive number, got '-1'"},
      {"keep no checkpoints", doc(three, model_line, "checkpoint: {keep: 0}\n"), "bad.yaml:9:20", "checkpoint.keep",
       "expected a positive integer, got '0'"},
      {"empty metrics dir", doc(three, model_line, "metrics: {dir: ''}\n"), "bad.yaml:9:16", "metrics.dir",
       "expected a directory, got an empty string"},
  });
}

TEST_CASE("aggregator: {shards: K} on the aggregator node shards it; elsewhere or unsupported it is refused",
          "[config][topology][shards]") {
  const std::string sharded =
      "    - {name: agg, roles: [aggregator], endpoint: 'tcp://127.0.0.1:5701', aggregator: {shards: 4}}\n";
  const topology t = parse_topology(doc(sharded + ld + tr), "t.yaml");
  CHECK(find_node(t, "agg").shards == 4);
  CHECK(find_node(t, "ld").shards == 0);
  CHECK(troupe::config::total_shards(t.cluster) == 4);
  CHECK(troupe::config::total_shards(parse_topology(doc(three), "t.yaml").cluster) == 1);

  REQUIRE_THROWS_WITH(
      parse_topology(doc(agg +
                         "    - {name: ld, roles: [loader], endpoint: 'tcp://127.0.0.1:5702', aggregator: "
                         "{shards: 2}}\n" +
                         tr),
                     "t.yaml"),
      StartsWith("t.yaml:5:") && Contains("has no aggregator role"));
  REQUIRE_THROWS_WITH(
      parse_topology(doc("    - {name: agg, roles: [aggregator], endpoint: 'tcp://127.0.0.1:5701', aggregator: "
                         "{shards: 0}}\n" +
                         ld + tr),
                     "t.yaml"),
      Contains("shards"));
  // Compression is cut per shard (docs/sharding.md): accepted.
  REQUIRE(parse_topology(doc(sharded + ld + tr, model_line + "  compression: fp16\n"), "t.yaml").job.compression.mode ==
          troupe::config::compression::fp16);
  REQUIRE_THROWS_WITH(parse_topology(doc(sharded + ld + tr, model_line + "  on_trainer_loss: shrink\n"), "t.yaml"),
                      Contains("job.on_trainer_loss") && Contains("on_trainer_loss: shrink with 4 aggregator shards"));
  REQUIRE_THROWS_WITH(parse_topology(doc(sharded + ld + tr, model_line + "  backup_trainers: 1\n"), "t.yaml"),
                      Contains("job.backup_trainers") && Contains("backup_trainers with 4 aggregator shards"));
  REQUIRE_THROWS_WITH(parse_topology(doc(sharded + ld + tr, model_line, "checkpoint: {every_seconds: 30}\n"), "t.yaml"),
                      Contains("checkpoint.every_seconds") && Contains("every_steps"));
}
