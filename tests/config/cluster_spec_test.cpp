#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/topology.hpp"
#include "topology_fixtures.hpp"

using troupe::config::parse_topology;
using troupe::config::topology;
using troupe_test::agg;
using troupe_test::check_rejected;
using troupe_test::doc;
using troupe_test::ld;
using troupe_test::model_line;
using troupe_test::tr;

TEST_CASE("impossible clusters are rejected at the offending node", "[config][topology][cluster]") {
  check_rejected({
      {"no nodes", "cluster:\n  id: c\n  nodes: []\njob:\n" + model_line, "bad.yaml:3:10", "cluster.nodes",
       "expected at least one node, got none"},
      {"empty nodes", "cluster:\n  id: c\n  nodes:\njob:\n" + model_line, "bad.yaml:3:3", "cluster.nodes",
       "expected at least one node, got none"},
      {"missing nodes", "cluster:\n  id: c\njob:\n" + model_line, "bad.yaml:2:3", "cluster.nodes",
       "missing required key 'nodes'"},
      {"node as a scalar", doc("    - agg\n" + ld + tr), "bad.yaml:4:7", "cluster.nodes[0]",
       "expected a node like {name: ..., roles: [...], endpoint: ...}, got 'agg'"},
      {"node without a name", doc("    - {roles: [aggregator], endpoint: 'ipc://a'}\n" + ld + tr), "bad.yaml:4:7",
       "cluster.nodes[0].name", "missing required key 'name'"},
      {"duplicate node name", doc(agg + "    - {name: agg, roles: [loader], endpoint: 'tcp://127.0.0.1:5702'}\n" + tr),
       "bad.yaml:5:14", "cluster.nodes[1].name", "duplicate node name 'agg' (also cluster.nodes[0])"},
      {"two nodes on one endpoint",
       doc(agg + ld + "    - {name: t0, roles: [trainer], endpoint: 'tcp://127.0.0.1:05702', trainers: 1}\n"),
       "bad.yaml:6:46", "cluster.nodes[2].endpoint",
       "endpoint 'tcp://127.0.0.1:05702' is already used by node 'ld' (cluster.nodes[1])"},
      {"aggregator shards on a loader",
       doc(agg + "    - {name: ld, roles: [loader], endpoint: 'ipc://ld', aggregator: {shards: 2}}\n" + tr),
       "bad.yaml:5:69", "cluster.nodes[1].aggregator",
       "node 'ld' has no aggregator role (roles: loader), so it has no aggregator to shard"},
      {"no aggregator", doc(ld + tr), "bad.yaml:4:5", "cluster.nodes",
       "no node has the aggregator role; at least one must (several run aggregator shards)"},
      {"no loader", doc(agg + tr), "bad.yaml:4:5", "cluster.nodes", "no node has the loader role; at least one must"},
      {"no trainer", doc(agg + ld), "bad.yaml:4:5", "cluster.nodes",
       "no node has the trainer role, so nothing would train"},
      {"trainer node without trainers",
       doc(agg + ld + "    - {name: t0, roles: [trainer], endpoint: 'tcp://127.0.0.1:5703', trainers: 0}\n"),
       "bad.yaml:6:80", "cluster.nodes[2].trainers", "a node with the trainer role needs trainers >= 1, got 0"},
      {"trainers on a node without the trainer role",
       doc("    - {name: agg, roles: [aggregator], endpoint: 'ipc://agg', trainers: 2}\n" + ld + tr), "bad.yaml:4:73",
       "cluster.nodes[0].trainers",
       "node 'agg' has no trainer role (roles: aggregator), so it cannot run 2 trainers; remove 'trainers' or add "
       "the trainer role"},
      {"zero threads", doc(agg + ld + "    - {name: t0, roles: [trainer], endpoint: 'ipc://t0', threads: 0}\n"),
       "bad.yaml:6:67", "cluster.nodes[2].threads", "expected a positive integer, got '0'"},
      {"unknown role", doc(agg + "    - {name: ld, roles: [loader, trainr], endpoint: 'ipc://ld'}\n" + tr),
       "bad.yaml:5:34", "cluster.nodes[1].roles[1]",
       "unknown role 'trainr' (did you mean 'trainer'?); expected one of: aggregator, loader, trainer"},
      {"roles as a single word", doc(agg + "    - {name: ld, roles: loader, endpoint: 'ipc://ld'}\n" + tr),
       "bad.yaml:5:25", "cluster.nodes[1].roles", "expected a list of roles like [loader], got 'loader'"},
      {"no roles", doc(agg + "    - {name: ld, roles: [], endpoint: 'ipc://ld'}\n" + tr), "bad.yaml:5:25",
       "cluster.nodes[1].roles", "expected at least one role (aggregator, loader, trainer), got none"},
      {"repeated role", doc(agg + "    - {name: ld, roles: [loader, loader], endpoint: 'ipc://ld'}\n" + tr),
       "bad.yaml:5:34", "cluster.nodes[1].roles[1]", "role 'loader' is listed twice"},
      {"unknown endpoint scheme",
       doc("    - {name: agg, roles: [aggregator], endpoint: 'pgm://127.0.0.1:5701'}\n" + ld + tr), "bad.yaml:4:50",
       "cluster.nodes[0].endpoint", "unknown transport 'pgm'; expected inproc://name, tcp://host:port"},
      {"endpoint without a port",
       doc("    - {name: agg, roles: [aggregator], endpoint: 'tcp://127.0.0.1'}\n" + ld + tr), "bad.yaml:4:50",
       "cluster.nodes[0].endpoint", "bad tcp endpoint 'tcp://127.0.0.1': the port is missing"},
      {"inproc across nodes", doc("    - {name: agg, roles: [aggregator], endpoint: 'inproc://agg'}\n" + ld + tr),
       "bad.yaml:4:50", "cluster.nodes[0].endpoint",
       "inproc:// only reaches nodes in the same process, so it needs a single-node cluster, but this one has 3 "
       "nodes; use tcp://host:port or ipc://path"},
  });
}

TEST_CASE("ephemeral tcp ports never collide", "[config][topology][cluster]") {
  const topology t = parse_topology(doc("    - {name: agg, roles: [aggregator], endpoint: 'tcp://127.0.0.1:0'}\n"
                                        "    - {name: ld, roles: [loader], endpoint: 'tcp://127.0.0.1:*'}\n" +
                                        tr),
                                    "t.yaml");
  CHECK(t.cluster.nodes[0].address.ephemeral());
  CHECK(t.cluster.nodes[1].address.ephemeral());
}

TEST_CASE("failure_timeout_s defaults to 2.5 heartbeats and must exceed one heartbeat", "[config][topology][cluster]") {
  const auto by_default = parse_topology(doc(troupe_test::three), "ok.yaml");
  CHECK(by_default.cluster.failure_timeout_s == 2.5);
  const auto scaled = parse_topology(
      "cluster:\n  id: c\n  heartbeat_s: 0.2\n  nodes:\n" + troupe_test::three + "job:\n" + model_line, "ok.yaml");
  CHECK(scaled.cluster.failure_timeout_s == Approx(0.5));
  check_rejected({
      {"failure timeout within a heartbeat",
       "cluster:\n  id: c\n  heartbeat_s: 1\n  failure_timeout_s: 0.8\n  nodes:\n" + troupe_test::three + "job:\n" +
           model_line,
       "bad.yaml:4:22", "cluster.failure_timeout_s",
       "failure_timeout_s (0.8) must be longer than heartbeat_s (1), or every node would be declared lost between "
       "two heartbeats"},
  });
}

TEST_CASE("trainer_gone_after_s defaults to 10 minutes and must exceed the failure timeout",
          "[config][topology][cluster]") {
  CHECK(parse_topology(doc(troupe_test::three), "ok.yaml").cluster.trainer_gone_after_s == 600);
  const auto set = parse_topology("cluster:\n  id: c\n  trainer_gone_after_s: 30\n  nodes:\n" + troupe_test::three +
                                      "job:\n" + model_line,
                                  "ok.yaml");
  CHECK(set.cluster.trainer_gone_after_s == 30);
  check_rejected({
      {"a trainer given less time to come back than it takes to be declared lost",
       "cluster:\n  id: c\n  heartbeat_s: 1\n  trainer_gone_after_s: 2\n  nodes:\n" + troupe_test::three + "job:\n" +
           model_line,
       "bad.yaml:4:25", "cluster.trainer_gone_after_s",
       "trainer_gone_after_s (2) must be longer than failure_timeout_s (2.5)"},
      {"zero", "cluster:\n  id: c\n  trainer_gone_after_s: 0\n  nodes:\n" + troupe_test::three + "job:\n" + model_line,
       "bad.yaml:3:25", "cluster.trainer_gone_after_s", "positive"},
  });
}
