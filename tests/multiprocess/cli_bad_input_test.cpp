// The bad-input table for troupe-node's command line (docs/bad-input.md): the real binary, started
// in a scratch working directory, exits non-zero on its own (never by a signal, never hanging), says
// on stderr which flag or file is wrong and why, and leaves the directory as it was: no output
// directory, no checkpoint, no rewritten input.

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "tests/support/disk_snapshot.hpp"
#include "tests/support/test_env.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace {

/// How a finished troupe-node run ended.
struct run_result {
  bool exited = false; ///< ended by exit(), not by a signal or the deadline
  int code = -1;       ///< exit status when `exited`
  int signal = 0;      ///< the signal that ended it, if one did
  bool hung = false;   ///< killed after the deadline
  std::string err;     ///< stderr
  std::string out;     ///< stdout
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// `text` with every "@/" replaced by `dir` + "/".
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

/// Runs troupe-node with `args` ("@/" stands for `cwd`) in working directory `cwd`; stdout, stderr apart in `logs`.
run_result run_node(const std::vector<std::string>& args, const fs::path& cwd, const fs::path& logs) {
  std::vector<std::string> all{TROUPE_NODE_BINARY};
  for (const auto& a : args)
    all.push_back(expand(a, cwd.string()));
  std::vector<char*> argv;
  for (auto& a : all)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out_path = (logs / "stdout").string(), err_path = (logs / "stderr").string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);

  // Every row fails while reading its input: a generous bound that only a hang exceeds.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  run_result r;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.hung = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.exited = !r.hung && WIFEXITED(status);
  r.code = r.exited ? WEXITSTATUS(status) : -1;
  r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  r.err = slurp(err_path);
  r.out = slurp(out_path);
  return r;
}

// A valid four-node topology with ephemeral ports: nodes on lines 4 to 7, job.model on line 9,
// job.data on line 10.
const std::string topology = "cluster:\n"
                             "  id: cli-bad\n"
                             "  nodes:\n"
                             "    - {name: agg, roles: [aggregator], endpoint: 'tcp://127.0.0.1:*'}\n"
                             "    - {name: ld, roles: [loader], endpoint: 'tcp://127.0.0.1:*'}\n"
                             "    - {name: t0, roles: [trainer], endpoint: 'tcp://127.0.0.1:*'}\n"
                             "    - {name: t1, roles: [trainer], endpoint: 'tcp://127.0.0.1:*'}\n"
                             "job:\n"
                             "  model: m.yaml\n"
                             "  data: {dir: data}\n";

// A launched job's topology (docs/deploy.md): no nodes, a launch section.
const std::string launched = "cluster:\n"
                             "  id: cli-launched\n"
                             "  launch: {port: 29500}\n"
                             "job:\n"
                             "  model: m.yaml\n"
                             "  data: {dir: data}\n";

const std::string model = "name: tiny\ninput: [1, 28, 28]\nlayers:\n  - flatten\n  - dense: {units: 10}\n";
// Models that parse but do not fit Fashion-MNIST's 1 x 28 x 28 images of 10 classes.
const std::string small_model = "name: small\ninput: [1, 8, 8]\nlayers:\n  - flatten\n  - dense: {units: 10}\n";
const std::string five_model = "name: five\ninput: [784]\nlayers:\n  - dense: {units: 5}\n";

/// One row: the command line (after the binary), the topology file's text and what stderr must say.
///
/// In `args` and `message`, "@/" stands for the working directory; "t.yaml" is the topology file there.
struct row {
  const char* name;
  std::vector<std::string> args;
  int code; ///< 2: bad command-line usage (CLI11 rejected it); 1: an error in what the flags name
  std::string message;
  std::string yaml = topology;
};

} // namespace

/// examples/fed_bandit.yaml, the federated-bandit file the docs use.
std::string bandit_example() {
  const char* src = std::getenv("TROUPE_SOURCE_DIR");
  REQUIRE(src != nullptr);
  std::ifstream in(std::string(src) + "/examples/fed_bandit.yaml");
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_CASE("bad input table: troupe-node command lines", "[cli][bad_input]") {
  const std::string bandit = bandit_example();
  const std::vector<row> rows = {
      {"--role auto with a bandit file",
       {"--role", "auto", "--config", "t.yaml"},
       1,
       "troupe-node: error: t.yaml: --role auto is for launched training jobs (cluster.launch); a bandit file lists "
       "its nodes",
       bandit},
      {"--fail-trainer with a bandit file",
       {"--role", "all", "--config", "t.yaml", "--fail-trainer", "0=5"},
       1,
       "troupe-node: error: --fail-trainer applies to training topologies, not to the bandit workload",
       bandit},
      {"no arguments at all", {}, 2, "--role is required"},
      {"an unknown role",
       {"--role", "trainr", "--config", "t.yaml"},
       2,
       "--role: trainr not in {aggregator,trainer,loader,all,auto}"},
      {"no --config", {"--role", "all"}, 2, "--config is required"},
      {"a --config that does not exist",
       {"--role", "all", "--config", "nope.yaml"},
       2,
       "--config: File does not exist: nope.yaml"},
      {"a directory for --config",
       {"--role", "all", "--config", "data"},
       2,
       "--config: File is actually a directory: data"},
      {"an unknown flag",
       {"--role", "all", "--config", "t.yaml", "--frobnicate"},
       2,
       "The following argument was not expected: --frobnicate"},
      {"--set of an unknown key",
       {"--role", "all", "--config", "t.yaml", "--set", "job.epoch=1"},
       1,
       "troupe-node: error: --set job.epoch=1: job.epoch: unknown key 'epoch' (did you mean 'epochs'?)"},
      {"--set of a bad value",
       {"--role", "all", "--config", "t.yaml", "--set", "job.epochs=abc"},
       1,
       "troupe-node: error: --set job.epochs=abc: job.epochs: expected a positive integer, got 'abc'"},
      {"--set without a value",
       {"--role", "all", "--config", "t.yaml", "--set", "job.epochs"},
       1,
       "troupe-node: error: --set job.epochs: expected key.path=value, e.g. --set job.epochs=1"},
      {"--set of an element that does not exist",
       {"--role", "all", "--config", "t.yaml", "--set", "cluster.nodes[7].trainers=2"},
       1,
       "troupe-node: error: --set cluster.nodes[7].trainers=2: cluster.nodes[7]: no such element; cluster.nodes has 4 "
       "elements"},
      {"--name of a node not in the file",
       {"--role", "trainer", "--name", "t9", "--config", "t.yaml"},
       1,
       "troupe-node: error: t.yaml: no node named 't9' (did you mean 't0'?); the nodes are: agg, ld, t0, t1"},
      {"--name of a node without the role",
       {"--role", "aggregator", "--name", "t0", "--config", "t.yaml"},
       1,
       "troupe-node: error: t.yaml:6:7: node 't0' does not have the aggregator role"},
      {"a role several nodes have, without --name",
       {"--role", "trainer", "--config", "t.yaml"},
       1,
       "troupe-node: error: t.yaml: 2 node(s) have the trainer role (t0, t1); pick one with --name"},
      {"a --slow-trainer without '='",
       {"--role", "all", "--config", "t.yaml", "--slow-trainer", "3"},
       1,
       "troupe-node: error: --slow-trainer 3: expected RANK=FACTOR, e.g. 1=3"},
      {"a --slow-trainer of words",
       {"--role", "all", "--config", "t.yaml", "--slow-trainer", "one=three"},
       1,
       "troupe-node: error: --slow-trainer one=three: expected RANK=FACTOR, e.g. 1=3"},
      {"a --transient-slow fraction above 1",
       {"--role", "all", "--config", "t.yaml", "--transient-slow", "1.5=5"},
       1,
       "troupe-node: error: --transient-slow 1.5=5: expected FRACTION=FACTOR with 0 < FRACTION <= 1 and FACTOR >= 1, "
       "e.g. 0.1=5 (10 % of the steps 5x slower)"},
      {"a --replay-balance file that is not a run's records",
       {"--role", "all", "--config", "t.yaml", "--replay-balance", "t.yaml"},
       1,
       "troupe-node: error: --replay-balance t.yaml:1: not a JSON record"},
      {"a --fail-trainer of a negative clock",
       {"--role", "all", "--config", "t.yaml", "--fail-trainer", "0=-5"},
       1,
       "troupe-node: error: --fail-trainer 0=-5: expected RANK=CLOCK, e.g. 1=100"},
      {"--role auto on a topology that lists its nodes",
       {"--role", "auto", "--config", "t.yaml"},
       1,
       "troupe-node: error: t.yaml: --role auto: this topology lists its nodes and has no cluster.launch section"},
      {"a fixed role on a launched topology",
       {"--role", "aggregator", "--config", "t.yaml"},
       1,
       "troupe-node: error: t.yaml: the topology has no cluster.nodes: its nodes are found at start by a launcher",
       launched},
      {"--role auto outside any launcher",
       {"--role", "auto", "--config", "t.yaml"},
       1,
       "troupe-node: error: --role auto: no launcher in the environment: expected Slurm (SLURM_PROCID, SLURM_NTASKS)",
       launched},
      {"a topology with a syntax error",
       {"--role", "all", "--config", "t.yaml"},
       1,
       "troupe-node: error: t.yaml:10:21: YAML syntax error: end of map not found",
       topology.substr(0, topology.size() - 1) + " [\n"},
      {"a model file that does not exist",
       {"--role", "all", "--config", "t.yaml", "--set", "job.model=nope.yaml"},
       1,
       "troupe-node: error: --set job.model=nope.yaml: job.model: nope.yaml: cannot open: No such file or directory"},
      {"a model whose input does not fit the data",
       {"--role", "all", "--config", "t.yaml", "--set", "job.model=small.yaml"},
       1,
       "troupe-node: error: --set job.model=small.yaml: job.model: small.yaml: input [1, 8, 8] holds 64 values per "
       "sample, but the data set's images are 1 x 28 x 28 (784 values)"},
      {"a model with fewer outputs than classes",
       {"--role", "trainer", "--name", "t0", "--config", "t.yaml", "--set", "job.model=five.yaml"},
       1,
       "troupe-node: error: --set job.model=five.yaml: job.model: five.yaml: the model outputs 5 class scores, but the "
       "data set has 10 classes"},
      {"a data directory that does not exist",
       {"--role", "loader", "--config", "t.yaml", "--set", "job.data.dir=nodata"},
       1,
       "troupe-node: error: --set job.data.dir=nodata: job.data.dir: directory 'nodata' does not exist"},
      {"a data directory without the data set",
       {"--role", "all", "--config", "t.yaml"},
       1,
       "troupe-node: error: t.yaml:10:15: job.data.dir: data/t10k-images-idx3-ubyte.gz: Fashion-MNIST file not found; "
       "install the data set with `apt-get install dataset-fashion-mnist`"},
      {"a data directory without the training split",
       {"--role", "all", "--config", "t.yaml", "--set", "job.data.dir=@/part"},
       1,
       "troupe-node: error: --set job.data.dir=@/part: job.data.dir: @/part/train-images-idx3-ubyte.gz: "
       "Fashion-MNIST file not found"},
  };

  for (const auto& r : rows) {
    DYNAMIC_SECTION(r.name) {
      troupe::test::scratch_dir work("cli-bad"), logs("cli-bad-logs");
      {
        std::ofstream(work.path / "t.yaml") << r.yaml;
        std::ofstream(work.path / "m.yaml") << model;
        std::ofstream(work.path / "small.yaml") << small_model;
        std::ofstream(work.path / "five.yaml") << five_model;
      }
      fs::create_directories(work.path / "data");
      // A data directory with the test split only (empty files: no row gets to read them).
      fs::create_directories(work.path / "part");
      std::ofstream(work.path / "part" / "t10k-images-idx3-ubyte.gz").flush();
      std::ofstream(work.path / "part" / "t10k-labels-idx1-ubyte.gz").flush();
      const auto before = troupe::test::disk_snapshot(work.path);

      const run_result res = run_node(r.args, work.path, logs.path);
      INFO("exit code " << res.code << ", signal " << res.signal << "\nstderr:\n" << res.err << "stdout:\n" << res.out);
      CHECK_FALSE(res.hung);
      CHECK(res.signal == 0);
      REQUIRE(res.exited);
      CHECK(res.code == r.code);
      CHECK_THAT(res.err, Catch::Contains(expand(r.message, work.path.string())));
      // The input is untouched and nothing was created: no runs/, no metrics, no checkpoint.
      CHECK(troupe::test::disk_snapshot(work.path) == before);
    }
  }
}
