// The run of a federated-bandit file (docs/fed_bandit.md): `troupe-node --role ROLE --config
// examples/fed_bandit.yaml`, reached through run_command when the file has a `bandit` section.

#include <iostream>
#include <string>
#include <vector>

#include "apps/commands.hpp"
#include "bandit/runner.hpp"
#include "common/error.hpp"
#include "config/bandit_spec.hpp"

namespace troupe::apps {

int run_bandit(const std::string& config_path, const std::vector<config::override_kv>& overrides,
               const std::string& role, const std::string& name, bool slow_trainer_given) {
  const auto spec = config::load_bandit_spec(config_path, overrides);
  if (slow_trainer_given)
    throw error("--slow-trainer applies to training topologies, not to the bandit workload");
  return bandit::run_fed_bandit(spec, pick_nodes(spec.cluster, spec.source, role, name), std::cout, &stop_requested());
}

} // namespace troupe::apps
