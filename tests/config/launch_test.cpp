/// Launched jobs (config/launch.hpp): which process a launcher's environment makes this one, the
/// Slurm host list, the `cluster.launch` section and the static topology a membership spells.

#include <map>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "common/error.hpp"
#include "config/launch.hpp"
#include "config/topology.hpp"
#include "topology_fixtures.hpp"

using namespace troupe::config;

namespace {

/// An environment made of `vars` only.
env_lookup env_of(const std::map<std::string, std::string>& vars) {
  return [vars](const char* k) -> const char* {
    auto it = vars.find(k);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const troupe::error& e) {
    return e.what();
  }
  return "(no error)";
}

const std::string launched_doc = "cluster:\n  id: launched\n  launch: {trainers_per_node: 2, threads: 3, port: 4000}\n"
                                 "job:\n" +
                                 troupe_test::model_line;

} // namespace

TEST_CASE("each launcher's variables give rank, world size and rendezvous", "[config][launch]") {
  auto slurm = detect_launcher(
      env_of({{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "4"}, {"SLURM_JOB_NODELIST", "node[07-09]"}}), 4000);
  REQUIRE(slurm);
  CHECK(slurm->launcher == "slurm");
  CHECK(slurm->rank == 2);
  CHECK(slurm->world == 4);
  CHECK(slurm->rendezvous == "tcp://node07:4000");

  auto mpi = detect_launcher(env_of({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "3"}}));
  REQUIRE(mpi);
  CHECK(mpi->launcher == "openmpi");
  CHECK(mpi->world == 3);
  CHECK(mpi->rendezvous.empty()); // Open MPI does not say where rank 0 runs

  auto pmi = detect_launcher(env_of({{"PMI_RANK", "1"}, {"PMI_SIZE", "2"}}));
  REQUIRE(pmi);
  CHECK(pmi->launcher == "pmi");

  auto torch = detect_launcher(
      env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "10.0.0.5"}, {"MASTER_PORT", "29400"}}));
  REQUIRE(torch);
  CHECK(torch->launcher == "torchrun");
  CHECK(torch->rendezvous == "tcp://10.0.0.5:29400");

  // Kubernetes: the trainers' StatefulSet starts at rank 1; the pod ordinal ends the host name.
  auto pod = detect_launcher(env_of({{"TROUPE_WORLD_SIZE", "5"},
                                     {"TROUPE_RANK_OFFSET", "1"},
                                     {"HOSTNAME", "troupe-trainer-3"},
                                     {"TROUPE_RENDEZVOUS", "tcp://troupe-aggregator-0.troupe:29500"}}));
  REQUIRE(pod);
  CHECK(pod->launcher == "kubernetes");
  CHECK(pod->rank == 4);
  CHECK(pod->rendezvous_override == "tcp://troupe-aggregator-0.troupe:29500");

  CHECK_FALSE(detect_launcher(env_of({{"HOME", "/root"}})));
}

TEST_CASE("unusable launcher variables are named", "[config][launch]") {
  CHECK_THAT(error_of([] {
               detect_launcher(env_of({{"SLURM_PROCID", "x"}, {"SLURM_NTASKS", "4"}}));
             }),
             Catch::Contains("SLURM_PROCID='x' is not a rank"));
  CHECK_THAT(error_of([] {
               detect_launcher(env_of({{"RANK", "3"}, {"WORLD_SIZE", "3"}}));
             }),
             Catch::Contains("rank 3 is not below the world size 3"));
  CHECK_THAT(error_of([] {
               detect_launcher(env_of({{"TROUPE_RANK", "0"}, {"TROUPE_WORLD_SIZE", "1"}}));
             }),
             Catch::Contains("at least 2 processes"));
  CHECK_THAT(
      error_of([] {
        detect_launcher(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "0"}}));
      }),
      Catch::Contains("MASTER_PORT='0' is not a port"));
  CHECK_THAT(
      error_of([] {
        detect_launcher(env_of({{"TROUPE_RANK", "0"}, {"TROUPE_WORLD_SIZE", "2"}, {"TROUPE_RENDEZVOUS", "ipc://x"}}));
      }),
      Catch::Contains("TROUPE_RENDEZVOUS"));
  CHECK_THAT(error_of([] {
               detect_launcher(env_of({{"TROUPE_WORLD_SIZE", "2"}, {"HOSTNAME", "nopod"}}));
             }),
             Catch::Contains("pod ordinal"));
}

TEST_CASE("the rendezvous: TROUPE_RENDEZVOUS, then the YAML, then the launcher's", "[config][launch]") {
  launch_env e;
  e.launcher = "openmpi";
  launch_spec l;
  l.rendezvous_where = "f.yaml:3:3";
  CHECK_THAT(error_of([&] { rendezvous_of(e, l); }),
             Catch::Contains("f.yaml:3:3") && Catch::Contains("TROUPE_RENDEZVOUS"));
  e.rendezvous = "tcp://a:1";
  CHECK(rendezvous_of(e, l) == "tcp://a:1");
  l.rendezvous = "tcp://b:2";
  CHECK(rendezvous_of(e, l) == "tcp://b:2");
  e.rendezvous_override = "tcp://c:3";
  CHECK(rendezvous_of(e, l) == "tcp://c:3");
}

TEST_CASE("Slurm host lists expand in order, keeping zero padding", "[config][launch]") {
  CHECK(expand_slurm_nodelist("vm") == std::vector<std::string>{"vm"});
  CHECK(expand_slurm_nodelist("node[01-03,07],gpu5") ==
        std::vector<std::string>{"node01", "node02", "node03", "node07", "gpu5"});
  CHECK(expand_slurm_nodelist("a[9-10]b,c") == std::vector<std::string>{"a9b", "a10b", "c"});
  CHECK_THAT(error_of([] { expand_slurm_nodelist("node[1-3"); }), Catch::Contains("without ']'"));
  CHECK_THAT(error_of([] { expand_slurm_nodelist("node[3-1]"); }), Catch::Contains("bad range '3-1'"));
}

TEST_CASE("a launched topology has no nodes until the rendezvous fills them", "[config][launch]") {
  const auto t = parse_topology(launched_doc, "launched.yaml");
  CHECK(t.cluster.nodes.empty());
  CHECK(t.cluster.launch.present);
  CHECK(t.cluster.launch.trainers_per_node == 2);
  CHECK(t.cluster.launch.threads == 3);
  CHECK(t.cluster.launch.port == 4000);

  // The membership of three processes, as run_command applies it.
  const std::vector<launched_member> members = {
      {0, "tcp://127.0.0.1:5000"}, {1, "tcp://127.0.0.1:5001"}, {2, "tcp://127.0.0.1:5002"}};
  const auto filled =
      parse_topology(launched_doc, "launched.yaml", {{"cluster.nodes", nodes_override(members, t.cluster.launch)}});
  REQUIRE(filled.cluster.nodes.size() == 3);
  CHECK(filled.cluster.nodes[0].name == "agg");
  CHECK(has_role(filled.cluster.nodes[0], role::aggregator));
  CHECK(has_role(filled.cluster.nodes[0], role::loader));
  CHECK(filled.cluster.nodes[2].name == "t1");
  CHECK(filled.cluster.nodes[2].endpoint == "tcp://127.0.0.1:5002");
  CHECK(filled.cluster.nodes[2].trainers == 2);
  CHECK(filled.cluster.nodes[2].threads == 3);
  CHECK(total_trainers(filled.cluster) == 4);
}

TEST_CASE("cluster.launch errors cite the file", "[config][launch]") {
  const auto bad = [](const std::string& launch) {
    return error_of(
        [&] { parse_topology("cluster:\n  id: c\n  " + launch + "\njob:\n" + troupe_test::model_line, "l.yaml"); });
  };
  CHECK_THAT(bad("launch: {port: 0}"), Catch::Contains("l.yaml:3:") && Catch::Contains("port"));
  CHECK_THAT(bad("launch: {trainer_per_node: 2}"), Catch::Contains("trainers_per_node"));
  CHECK_THAT(bad("launch: {}\n  rendezvous: 'tcp://h:*'"), Catch::Contains("cluster.rendezvous"));
  CHECK_THAT(bad("launch: {}\n  rendezvous: 'inproc://x'"), Catch::Contains("tcp://HOST:PORT"));
  CHECK_THAT(bad("launch: {public_keys: {agg: REPLACE-me}}"),
             Catch::Contains("cluster.launch.public_keys.agg") && Catch::Contains("40 Z85 characters"));
}

TEST_CASE("an elastic launched job: free places join later, and it needs on_trainer_loss: shrink", "[config][launch]") {
  const std::string doc = "cluster:\n  id: launched\n  launch: {max_trainers: 3}\njob:\n" + troupe_test::model_line +
                          "  on_trainer_loss: shrink\n";
  const auto t = parse_topology(doc, "elastic.yaml");
  CHECK(t.cluster.launch.max_trainers == 3);
  CHECK(max_world_of(t.cluster.launch, 2) == 4);
  CHECK(max_world_of(parse_topology(launched_doc, "l.yaml").cluster.launch, 3) == 3); // not elastic: as launched
  CHECK_THAT(error_of([&] { max_world_of(t.cluster.launch, 6); }), Catch::Contains("elastic.yaml:3:") &&
                                                                       Catch::Contains("max_trainers is 3") &&
                                                                       Catch::Contains("started 5 trainer processes"));

  // Two processes launched, two free places: the free ones are `endpoint: later`, connected to nobody yet.
  const std::vector<launched_member> members = {
      {0, "tcp://127.0.0.1:5000"}, {1, "tcp://127.0.0.1:5001"}, {2, ""}, {3, ""}};
  const auto filled =
      parse_topology(doc, "elastic.yaml", {{"cluster.nodes", nodes_override(members, t.cluster.launch)}});
  REQUIRE(filled.cluster.nodes.size() == 4);
  CHECK_FALSE(filled.cluster.nodes[1].joins_later);
  CHECK(filled.cluster.nodes[2].joins_later);
  CHECK(filled.cluster.nodes[3].name == "t2");
  CHECK(filled.cluster.nodes[3].joins_later);
  CHECK(total_trainers(filled.cluster) == 3);

  // Without shrink, a free place would be a lost trainer the job waits for.
  const std::string waiting = "cluster:\n  id: launched\n  launch: {max_trainers: 3}\njob:\n" + troupe_test::model_line;
  CHECK_THAT(error_of([&] { parse_topology(waiting, "w.yaml"); }), Catch::Contains("w.yaml:3:") &&
                                                                       Catch::Contains("cluster.launch.max_trainers") &&
                                                                       Catch::Contains("on_trainer_loss: shrink"));
}

TEST_CASE("endpoint: later only on a trainer node of a launched job", "[config][launch]") {
  const auto doc = [](const std::string& nodes, const std::string& cluster_extra) {
    return "cluster:\n  id: c\n" + cluster_extra + "  nodes: " + nodes + "\njob:\n" + troupe_test::model_line +
           "  on_trainer_loss: shrink\n";
  };
  const std::string agg = "{name: a, roles: [aggregator, loader], endpoint: 'ipc://s/a'}";
  CHECK_THAT(error_of([&] {
               parse_topology(doc("[" + agg + ", {name: t, roles: [trainer], endpoint: later}]", ""), "s.yaml");
             }),
             Catch::Contains("s.yaml:") && Catch::Contains("endpoint: later") && Catch::Contains("cluster.launch"));
  CHECK_THAT(error_of([&] {
               parse_topology(doc("[{name: a, roles: [aggregator, loader], endpoint: later}]", "  launch: {}\n"),
                              "s.yaml");
             }),
             Catch::Contains("only a trainer-only node may join later"));
}
