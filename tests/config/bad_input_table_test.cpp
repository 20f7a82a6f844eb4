// The bad-input table for YAML files (docs/bad-input.md): every malformed topology or model file,
// and every path in them that leads nowhere, is rejected with an error that starts with the file,
// line and column and the key path, says what is wrong, and leaves every file on disk as it was.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/topology.hpp"
#include "tests/support/disk_snapshot.hpp"
#include "tests/support/test_env.hpp"

namespace fs = std::filesystem;
using troupe::config::check_data_dir;
using troupe::config::load_job_model;
using troupe::config::load_topology;

namespace {

// A valid topology, one node per line: nodes on lines 4, 5, 6; `job:` on 7, job.model on 8, job.data on 9.
const std::string agg = "    - {name: agg, roles: [aggregator], endpoint: 'tcp://127.0.0.1:5701'}\n";
const std::string ld = "    - {name: ld, roles: [loader], endpoint: 'tcp://127.0.0.1:5702'}\n";
const std::string tr = "    - {name: t0, roles: [trainer], endpoint: 'tcp://127.0.0.1:5703'}\n";
const std::string three = agg + ld + tr;
const std::string job_lines = "  model: m.yaml\n  data: {dir: data}\n";

/// "cluster: {id, nodes: <nodes>}, job: <job>" followed by `rest`.
std::string topo(const std::string& nodes = three, const std::string& job = job_lines, const std::string& rest = "") {
  return "cluster:\n  id: bad-input\n  nodes:\n" + nodes + "job:\n" + job + rest;
}

// A valid model: `layers:` on line 3, its items on lines 4 to 7, `loss:` on 8.
const std::string good_model = "name: tiny\n"
                               "input: [1, 8, 8]\n"
                               "layers:\n"
                               "  - conv2d: {out_channels: 2, kernel: 3}\n"
                               "  - relu\n"
                               "  - flatten\n"
                               "  - dense: {units: 10}\n"
                               "loss: softmax_cross_entropy\n";

/// A model differing from good_model in the layer list (lines 4 on).
std::string model_with_layers(const std::string& layers) {
  return "name: tiny\ninput: [1, 8, 8]\nlayers:\n" + layers + "loss: softmax_cross_entropy\n";
}

/// Which reader gets to see the bad input.
enum class stage {
  topology, ///< load_topology
  model,    ///< load_topology, then load_job_model
  data_dir, ///< load_topology, then check_data_dir
};

/// One row: the files in a fresh directory and the start and gist of the error.
///
/// In `where` and `problem`, "@/" stands for the directory the files are in.
struct row {
  const char* name;
  std::string topology;           ///< t.yaml
  std::string model = good_model; ///< m.yaml
  stage at = stage::topology;
  const char* where = "";      ///< "t.yaml:9:11": the message starts with "@/t.yaml:9:11: "
  const char* path = "";       ///< key path following the position ("" for a whole-file problem)
  const char* problem = "";    ///< a part of the message that says what is wrong
  const char* load = "t.yaml"; ///< the file handed to load_topology
};

std::string expand(const std::string& text, const std::string& dir) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "@/") == 0) {
      out += dir + "/";
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

/// Runs the row's stages; returns the message of the troupe::error it must end with ("" if none).
std::string error_of(const row& r, const fs::path& dir) {
  try {
    const auto t = load_topology((dir / r.load).string());
    if (r.at == stage::model)
      load_job_model(t);
    if (r.at == stage::data_dir)
      check_data_dir(t);
  } catch (const troupe::error& e) {
    return e.what();
  }
  return "";
}

void check_rows(const std::vector<row>& rows) {
  for (const auto& r : rows) {
    DYNAMIC_SECTION(r.name) {
      troupe::test::scratch_dir scratch("bad-yaml");
      const fs::path& dir = scratch.path;
      write(dir / "t.yaml", r.topology);
      write(dir / "m.yaml", r.model);
      fs::create_directories(dir / "data");
      const auto before = troupe::test::disk_snapshot(dir);
      const bool had_runs = fs::exists("runs/bad-input");

      const std::string message = error_of(r, dir);
      const std::string path = r.path;
      const std::string prefix = expand(r.where, dir.string()) + ": " + (path.empty() ? "" : path + ": ");
      INFO("message: " << message);
      REQUIRE_FALSE(message.empty());
      CHECK_THAT(message, Catch::StartsWith(prefix) && Catch::Contains(expand(r.problem, dir.string())));
      // Rejecting the input changed nothing: no file rewritten, created or removed, no output directory made.
      CHECK(troupe::test::disk_snapshot(dir) == before);
      CHECK(fs::exists("runs/bad-input") == had_runs);
    }
  }
}

} // namespace

TEST_CASE("the files the bad-input rows vary are valid as they stand", "[config][bad_input]") {
  troupe::test::scratch_dir scratch("bad-yaml");
  write(scratch.path / "t.yaml", topo());
  write(scratch.path / "m.yaml", good_model);
  fs::create_directories(scratch.path / "data");
  const auto t = load_topology((scratch.path / "t.yaml").string());
  CHECK(t.cluster.nodes.size() == 3);
  CHECK(t.job.data.dir_where == (scratch.path / "t.yaml").string() + ":9:15");
  CHECK(load_job_model(t).layers.size() == 4);
  CHECK_NOTHROW(check_data_dir(t));
}

TEST_CASE("bad input table: YAML syntax errors", "[config][bad_input]") {
  check_rows({
      {"an unclosed flow sequence",
       topo(three, "  model: [m.yaml\n"),
       {},
       stage::topology,
       "@/t.yaml:9:1",
       "",
       "YAML syntax error: end of sequence flow not found"},
      {"a key indented into the previous value",
       "cluster:\n  id: c\n   nodes: []\n",
       {},
       stage::topology,
       "@/t.yaml:3:9",
       "",
       "YAML syntax error: illegal map value"},
      {"an alias to an anchor that is not defined",
       topo(three, "  model: *model\n"),
       {},
       stage::topology,
       "@/t.yaml:8:10",
       "",
       "YAML syntax error: the referenced anchor is not defined"},
      {"a list item inside a mapping",
       topo(three, job_lines + "  - epochs: 1\n"),
       {},
       stage::topology,
       "@/t.yaml:10:3",
       "",
       "YAML syntax error: end of map not found"},
      {"a key given twice",
       topo(three, job_lines + "  epochs: 1\n  epochs: 2\n"),
       {},
       stage::topology,
       "@/t.yaml:11:3",
       "job.epochs",
       "duplicate key 'epochs' (first given at line 10, column 3)"},
      {"a syntax error in the model file", topo(), "name: tiny\ninput: [1, 8, 8\nlayers: []\n", stage::model,
       "@/t.yaml:8:10", "job.model", "@/m.yaml:3:7: YAML syntax error"},
  });
}

TEST_CASE("bad input table: values of the wrong type", "[config][bad_input]") {
  check_rows({
      {"a word for a number",
       topo(three, job_lines + "  epochs: abc\n"),
       {},
       stage::topology,
       "@/t.yaml:10:11",
       "job.epochs",
       "expected a positive integer, got 'abc'"},
      {"a word for a section",
       topo(three, job_lines + "  optimizer: sgd\n"),
       {},
       stage::topology,
       "@/t.yaml:10:14",
       "job.optimizer",
       "expected a mapping (key: value), got 'sgd'"},
      {"a mapping for the node list",
       "cluster:\n  id: c\n  nodes: {name: agg}\njob:\n" + job_lines,
       {},
       stage::topology,
       "@/t.yaml:3:10",
       "cluster.nodes",
       "expected a sequence, got a mapping"},
      {"a word for a boolean",
       topo(three, job_lines, "metrics: {console: maybe}\n"),
       {},
       stage::topology,
       "@/t.yaml:10:20",
       "metrics.console",
       "expected a boolean (true or false), got 'maybe'"},
      {"one role instead of a list",
       topo(agg + ld + "    - {name: t0, roles: trainer, endpoint: 'ipc://t0'}\n"),
       {},
       stage::topology,
       "@/t.yaml:6:25",
       "cluster.nodes[2].roles",
       "expected a list of roles like [trainer]"},
      {"a list for a layer option", topo(), model_with_layers("  - conv2d: {out_channels: [2], kernel: 3}\n"),
       stage::model, "@/t.yaml:8:10", "job.model",
       "@/m.yaml:4:28: layers[0].conv2d.out_channels: expected a positive integer, got a sequence"},
  });
}

TEST_CASE("bad input table: unknown keys and values, with the closest match", "[config][bad_input]") {
  check_rows({
      {"a misspelt section",
       topo(three, job_lines, "metric: {print_freq: 1}\n"),
       {},
       stage::topology,
       "@/t.yaml:10:1",
       "metric",
       "unknown key 'metric' (did you mean 'metrics'?); allowed keys: cluster, job, checkpoint, metrics"},
      {"a misspelt job key",
       topo(three, job_lines + "  epoch: 3\n"),
       {},
       stage::topology,
       "@/t.yaml:10:3",
       "job.epoch",
       "unknown key 'epoch' (did you mean 'epochs'?)"},
      {"a misspelt node key",
       topo(agg + ld + "    - {name: t0, roles: [trainer], endpont: 'ipc://t0'}\n"),
       {},
       stage::topology,
       "@/t.yaml:6:36",
       "cluster.nodes[2].endpont",
       "unknown key 'endpont' (did you mean 'endpoint'?); allowed keys: name, roles, endpoint, trainers, threads"},
      {"a misspelt role",
       topo(agg + ld + "    - {name: t0, roles: [trainr], endpoint: 'ipc://t0'}\n"),
       {},
       stage::topology,
       "@/t.yaml:6:26",
       "cluster.nodes[2].roles[0]",
       "unknown role 'trainr' (did you mean 'trainer'?); expected one of: aggregator, loader, trainer"},
      {"a misspelt optimizer",
       topo(three, job_lines + "  optimizer: {kind: sgdd}\n"),
       {},
       stage::topology,
       "@/t.yaml:10:21",
       "job.optimizer.kind",
       "unknown optimizer 'sgdd' (did you mean 'sgd'?)"},
      {"a misspelt consistency mode",
       topo(three, job_lines + "  consistency: {mode: bps}\n"),
       {},
       stage::topology,
       "@/t.yaml:10:23",
       "job.consistency.mode",
       "unknown consistency mode 'bps' (did you mean 'bsp'?)"},
      {"a misspelt layer type", topo(),
       model_with_layers("  - conv2d: {out_channels: 2, kernel: 3}\n  - rleu\n"
                         "  - flatten\n  - dense: {units: 10}\n"),
       stage::model, "@/t.yaml:8:10", "job.model",
       "@/m.yaml:5:5: layers[1]: unknown layer type 'rleu' (did you mean 'relu'?)"},
      {"a misspelt layer option", topo(), model_with_layers("  - conv2d: {out_channels: 2, kernal: 3}\n"), stage::model,
       "@/t.yaml:8:10", "job.model",
       "@/m.yaml:4:31: layers[0].conv2d.kernal: unknown key 'kernal' (did you mean 'kernel'?)"},
  });
}

TEST_CASE("bad input table: missing required keys", "[config][bad_input]") {
  check_rows({
      {"no cluster section",
       "job:\n" + job_lines,
       {},
       stage::topology,
       "@/t.yaml:1:1",
       "cluster",
       "missing required key 'cluster'"},
      {"no job section",
       "cluster:\n  id: c\n  nodes:\n" + three,
       {},
       stage::topology,
       "@/t.yaml:1:1",
       "job",
       "missing required key 'job'"},
      {"no cluster id",
       "cluster:\n  nodes:\n" + three + "job:\n" + job_lines,
       {},
       stage::topology,
       "@/t.yaml:2:3",
       "cluster.id",
       "missing required key 'id'"},
      {"no job.model",
       topo(three, "  epochs: 1\n"),
       {},
       stage::topology,
       "@/t.yaml:8:3",
       "job.model",
       "missing required key 'model'"},
      {"a node without an endpoint",
       topo(agg + ld + "    - {name: t0, roles: [trainer]}\n"),
       {},
       stage::topology,
       "@/t.yaml:6:7",
       "cluster.nodes[2].endpoint",
       "missing required key 'endpoint'"},
      {"a conv2d layer without out_channels", topo(), model_with_layers("  - conv2d: {kernel: 3}\n"), stage::model,
       "@/t.yaml:8:10", "job.model", "@/m.yaml:4:13: layers[0].conv2d.out_channels: missing required key"},
      {"a model without input", topo(), "name: tiny\nlayers:\n  - flatten\n", stage::model, "@/t.yaml:8:10",
       "job.model", "@/m.yaml:1:1: input: missing required key 'input'"},
  });
}

TEST_CASE("bad input table: values out of range", "[config][bad_input]") {
  check_rows({
      {"a batch of zero",
       topo(three, job_lines + "  batch_size: 0\n"),
       {},
       stage::topology,
       "@/t.yaml:10:15",
       "job.batch_size",
       "expected a positive integer, got '0'"},
      {"a negative learning rate",
       topo(three, job_lines + "  optimizer: {lr: -1}\n"),
       {},
       stage::topology,
       "@/t.yaml:10:19",
       "job.optimizer.lr",
       "expected a non-negative number, got '-1'"},
      {"beta1 of 1",
       topo(three, job_lines + "  optimizer: {kind: adam, beta1: 1}\n"),
       {},
       stage::topology,
       "@/t.yaml:10:34",
       "job.optimizer.beta1",
       "expected a number in [0, 1), got '1'"},
      {"a port above 65535",
       topo(three, job_lines, "metrics: {prometheus_port: 70000}\n"),
       {},
       stage::topology,
       "@/t.yaml:10:28",
       "metrics.prometheus_port",
       "expected an integer in [0, 65535], got '70000'"},
      {"keep no checkpoints",
       topo(three, job_lines, "checkpoint: {keep: 0}\n"),
       {},
       stage::topology,
       "@/t.yaml:10:20",
       "checkpoint.keep",
       "expected a positive integer, got '0'"},
      {"zero threads",
       topo(agg + ld + "    - {name: t0, roles: [trainer], endpoint: 'ipc://t0', threads: 0}\n"),
       {},
       stage::topology,
       "@/t.yaml:6:67",
       "cluster.nodes[2].threads",
       "expected a positive integer, got '0'"},
      {"a port out of range in an endpoint",
       topo(agg + ld +
            "    - {name: t0, roles: [trainer], endpoint: "
            "'tcp://127.0.0.1:99999'}\n"),
       {},
       stage::topology,
       "@/t.yaml:6:46",
       "cluster.nodes[2].endpoint",
       "99999"},
      {"a kernel of zero", topo(), model_with_layers("  - conv2d: {out_channels: 2, kernel: 0}\n"), stage::model,
       "@/t.yaml:8:10", "job.model", "@/m.yaml:4:39: layers[0].conv2d.kernel: expected a positive integer, got '0'"},
      {"a kernel larger than the image", topo(),
       model_with_layers("  - conv2d: {out_channels: 2, kernel: 9}\n  - flatten\n  - dense: {units: 10}\n"),
       stage::model, "@/t.yaml:8:10", "job.model", "@/m.yaml:4:5: layers[0].conv2d: kernel 9 is larger than the input"},
  });
}

TEST_CASE("bad input table: impossible topologies", "[config][bad_input]") {
  check_rows({
      {"two nodes on one endpoint",
       topo(agg + ld + "    - {name: t0, roles: [trainer], endpoint: 'tcp://127.0.0.1:5702'}\n"),
       {},
       stage::topology,
       "@/t.yaml:6:46",
       "cluster.nodes[2].endpoint",
       "endpoint 'tcp://127.0.0.1:5702' is already used by node 'ld' (cluster.nodes[1])"},
      {"aggregator shards on a node without the aggregator role",
       topo(agg + "    - {name: ld, roles: [loader], endpoint: 'tcp://127.0.0.1:5702', aggregator: {shards: 2}}\n" +
            tr),
       {},
       stage::topology,
       "@/t.yaml:5:81",
       "cluster.nodes[1].aggregator",
       "node 'ld' has no aggregator role (roles: loader), so it has no aggregator to shard"},
      {"trainers but no aggregator node",
       topo(ld + tr),
       {},
       stage::topology,
       "@/t.yaml:4:5",
       "cluster.nodes",
       "no node has the aggregator role; at least one must (several run aggregator shards)"},
      {"no loader",
       topo(agg + tr),
       {},
       stage::topology,
       "@/t.yaml:4:5",
       "cluster.nodes",
       "no node has the loader role; at least one must"},
      {"two nodes of one name",
       topo(agg + ld + "    - {name: ld, roles: [trainer], endpoint: 'tcp://127.0.0.1:5703'}\n"),
       {},
       stage::topology,
       "@/t.yaml:6:14",
       "cluster.nodes[2].name",
       "duplicate node name 'ld' (also cluster.nodes[1])"},
      {"zero trainers in the cluster",
       topo(agg + ld),
       {},
       stage::topology,
       "@/t.yaml:4:5",
       "cluster.nodes",
       "no node has the trainer role, so nothing would train"},
      {"a trainer node with trainers: 0",
       topo(agg + ld + "    - {name: t0, roles: [trainer], endpoint: 'ipc://t0', trainers: 0}\n"),
       {},
       stage::topology,
       "@/t.yaml:6:68",
       "cluster.nodes[2].trainers",
       "a node with the trainer role needs trainers >= 1, got 0"},
      {"trainers on a node without the trainer role",
       topo("    - {name: agg, roles: [aggregator], endpoint: 'ipc://a', trainers: 2}\n" + ld + tr),
       {},
       stage::topology,
       "@/t.yaml:4:71",
       "cluster.nodes[0].trainers",
       "node 'agg' has no trainer role (roles: aggregator), so it cannot run 2 trainers"},
      {"inproc between several nodes",
       topo("    - {name: agg, roles: [aggregator], endpoint: 'inproc://agg'}\n" + ld + tr),
       {},
       stage::topology,
       "@/t.yaml:4:50",
       "cluster.nodes[0].endpoint",
       "inproc:// only reaches nodes in the same process"},
      {"no nodes at all",
       "cluster:\n  id: c\n  nodes: []\njob:\n" + job_lines,
       {},
       stage::topology,
       "@/t.yaml:3:10",
       "cluster.nodes",
       "expected at least one node, got none"},
  });
}

TEST_CASE("bad input table: paths that lead nowhere", "[config][bad_input]") {
  check_rows({
      {"a topology file that does not exist", topo(), good_model, stage::topology, "@/missing.yaml", "",
       "cannot open: No such file or directory", "missing.yaml"},
      {"a directory for the topology file", topo(), good_model, stage::topology, "@/data", "",
       "cannot read: is a directory", "data"},
      {"a model file that does not exist", topo(three, "  model: nope.yaml\n  data: {dir: data}\n"), good_model,
       stage::model, "@/t.yaml:8:10", "job.model", "@/nope.yaml: cannot open: No such file or directory"},
      {"an empty model file", topo(), "", stage::model, "@/t.yaml:8:10", "job.model",
       "@/m.yaml:1:1: the model description is empty"},
      {"a data directory that does not exist", topo(three, "  model: m.yaml\n  data: {dir: nodata}\n"), good_model,
       stage::data_dir, "@/t.yaml:9:15", "job.data.dir", "directory '@/nodata' does not exist"},
      {"a file for the data directory", topo(three, "  model: m.yaml\n  data: {dir: m.yaml}\n"), good_model,
       stage::data_dir, "@/t.yaml:9:15", "job.data.dir", "'@/m.yaml' is not a directory"},
  });
}
