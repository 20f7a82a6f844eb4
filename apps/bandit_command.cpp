// The run of a federated-bandit file (docs/fed_bandit.md): `troupe-node --role ROLE --config
// examples/fed_bandit.yaml`, reached through run_command when the file has a `bandit` section.

#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "apps/commands.hpp"
#include "bandit/runner.hpp"
#include "common/error.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::apps {

int run_bandit(const std::string& config_path, const std::vector<config::override_kv>& overrides,
               const std::string& role, const std::string& name, bool slow_trainer_given, bool fail_trainer_given) {
  const auto spec = config::load_bandit_spec(config_path, overrides);
  if (slow_trainer_given)
    throw error("--slow-trainer applies to training topologies, not to the bandit workload");
  if (fail_trainer_given)
    throw error("--fail-trainer applies to training topologies, not to the bandit workload");
  if (role == "auto")
    throw error(fmt::format(
        "{}: --role auto is for launched training jobs (cluster.launch); a bandit file lists its "
        "nodes: run the server with --role aggregator, each host with --role trainer --name NODE, or all with "
        "--role all",
        config_path));
  return bandit::run_fed_bandit(spec, pick_nodes(spec.cluster, spec.source, role, name), std::cout, &stop_requested());
}

} // namespace troupe::apps
