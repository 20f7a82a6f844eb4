#pragma once
// Shared by the topology tests: example paths, --set lists and a small valid cluster to vary.

#include <catch2/catch.hpp>

#include <initializer_list>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/topology.hpp"

#include "example_path.hpp"

namespace troupe_test {

inline std::vector<troupe::config::override_kv> sets(const std::vector<std::string>& args) {
  std::vector<troupe::config::override_kv> out;
  for (const auto& a : args)
    out.push_back(troupe::config::parse_override(a));
  return out;
}

inline std::vector<troupe::config::role> roles(std::initializer_list<troupe::config::role> r) {
  return r;
}

// A small valid cluster, one node per line: doc(three) has the nodes on lines 4, 5, 6, `job:` on 7, job.model on 8.
inline const std::string agg = "    - {name: agg, roles: [aggregator], endpoint: 'tcp://127.0.0.1:5701'}\n";
inline const std::string ld = "    - {name: ld, roles: [loader], endpoint: 'tcp://127.0.0.1:5702'}\n";
inline const std::string tr = "    - {name: t0, roles: [trainer], endpoint: 'tcp://127.0.0.1:5703', trainers: 1}\n";
inline const std::string three = agg + ld + tr;
inline const std::string model_line = "  model: m.yaml\n";

/// "cluster: {id: c, nodes: <nodes>}, job: <job>" followed by `rest`.
inline std::string doc(const std::string& nodes, const std::string& job = model_line, const std::string& rest = "") {
  return "cluster:\n  id: c\n  nodes:\n" + nodes + "job:\n" + job + rest;
}

/// A malformed topology and what its error must say: "<where>: <path>: ...<problem>...".
struct bad_topology {
  const char* name;
  std::string yaml;
  const char* where;
  const char* path;
  const char* problem;
};

inline void check_rejected(const std::vector<bad_topology>& rows) {
  for (const auto& row : rows) {
    DYNAMIC_SECTION(row.name) {
      const std::string path = row.path;
      const std::string prefix = std::string(row.where) + ": " + (path.empty() ? "" : path + ": ");
      REQUIRE_THROWS_AS(troupe::config::parse_topology(row.yaml, "bad.yaml"), troupe::error);
      REQUIRE_THROWS_WITH(troupe::config::parse_topology(row.yaml, "bad.yaml"),
                          Catch::StartsWith(prefix) && Catch::Contains(row.problem));
    }
  }
}

} // namespace troupe_test
