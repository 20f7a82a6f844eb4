#include "bandit/simulation.hpp"

#include <vector>

#include "bandit/environment.hpp"
#include "bandit/server_session.hpp"
#include "bandit/ucb1.hpp"

namespace troupe::bandit {

run_result simulate(const config::bandit_params& p, const std::vector<std::uint64_t>& sample_at) {
  if (p.algorithm == config::bandit_algorithm::ucb1)
    return run_ucb1(p, sample_at);
  server_session server(p, sample_at);
  const client_factory factory(p);
  std::vector<client_state> clients;
  while (auto plan = server.next_phase()) {
    if (!plan->uploads)
      continue; // the phase runs into T: what the clients observe no longer matters
    for (std::uint64_t id = plan->first_new; id < plan->clients; ++id)
      clients.push_back(factory.make(id));
    for (auto& c : clients) {
      c.play_phase(plan->active, plan->pulls);
      const std::vector<float> up = c.upload(plan->active);
      server.receive(c.id(), up.data(), up.size());
    }
    server.finish_phase();
  }
  return server.result();
}

} // namespace troupe::bandit
