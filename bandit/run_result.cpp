#include "bandit/run_result.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::bandit {

nlohmann::json to_json(const run_result& r) {
  nlohmann::json j = {{"algorithm", config::to_string(r.algorithm)},
                      {"T", r.horizon},
                      {"phases", r.phases},
                      {"clients", r.clients},
                      {"communications", r.communications},
                      {"pull_regret", r.pull_regret},
                      {"communication_cost", r.communication_cost},
                      {"cumulative_regret", r.regret()},
                      {"active", r.active},
                      {"decided_at", r.decided_at}};
  j["chosen"] = r.chosen ? nlohmann::json(*r.chosen) : nlohmann::json(nullptr);
  return j;
}

run_result result_from_json(const nlohmann::json& j) {
  try {
    run_result r;
    const auto algo = j.at("algorithm").get<std::string>();
    if (algo == "fed2_ucb")
      r.algorithm = config::bandit_algorithm::fed2_ucb;
    else if (algo == "fed1_ucb")
      r.algorithm = config::bandit_algorithm::fed1_ucb;
    else if (algo == "ucb1")
      r.algorithm = config::bandit_algorithm::ucb1;
    else
      throw error(fmt::format("unknown algorithm '{}'", algo));
    r.horizon = j.at("T").get<std::uint64_t>();
    r.phases = j.at("phases").get<std::uint64_t>();
    r.clients = j.at("clients").get<std::uint64_t>();
    r.communications = j.at("communications").get<std::uint64_t>();
    r.pull_regret = j.at("pull_regret").get<double>();
    r.communication_cost = j.at("communication_cost").get<double>();
    r.active = j.at("active").get<std::vector<std::size_t>>();
    r.decided_at = j.at("decided_at").get<std::uint64_t>();
    if (!j.at("chosen").is_null())
      r.chosen = j.at("chosen").get<std::size_t>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw error(fmt::format("malformed run result: {}", e.what()));
  }
}

} // namespace troupe::bandit
