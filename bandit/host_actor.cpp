#include "bandit/host_actor.hpp"

#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "bandit/environment.hpp"
#include "bandit/protocol.hpp"
#include "bandit/ucb1.hpp"
#include "common/error.hpp"
#include "runtime/metrics_actor.hpp"

namespace troupe::bandit {

namespace {

using clock = actor_link::clock;
using net::msg_type;

class host {
public:
  host(const config::bandit_params& p, const actor_link& link, const host_options& o)
      : p_(p), link_(link), rank_(o.rank), name_(host_actor(o.rank)), fail_at_phase_(o.fail_at_phase), factory_(p) {}

  void run() {
    if (!join())
      return;
    for (;;) {
      auto m = link_.receive(clock::now() + link_.silence_timeout);
      if (!m)
        throw error(fmt::format("{}: nothing from the server '{}' within {} ms", name_, link_.server_node,
                                link_.silence_timeout.count()));
      if (m->h.sender != link_.server_node) {
        link_.refuse_unauthorized(fmt::format("a {} for {} from '{}', which is not the server's node",
                                              net::to_string(m->h.type), name_, m->h.sender));
      } else if (m->h.type == msg_type::shutdown) {
        const shutdown_msg s = decode_shutdown(*m);
        finish(s);
        if (s.reason != "done" && s.reason != "stopped")
          throw error(fmt::format("{}: the server ended the run: {}", name_, s.reason));
        return;
      } else if (m->h.type == msg_type::reject) {
        throw error(fmt::format("{}: the server rejected this host: {}", name_, decode_reject(*m)));
      } else if (m->h.type == msg_type::params && is_ucb1_start(*m)) {
        link_.send(link_.server_node, encode_ucb1_result(rank_, run_ucb1(p_)));
      } else if (m->h.type == msg_type::params) {
        play(decode_phase(*m, p_.means.size()));
      } // a repeated welcome needs nothing
    }
  }

private:
  /// Says hello every hello_interval until the server welcomes this host; false if it stopped first.
  bool join() {
    const auto give_up = clock::now() + link_.join_timeout;
    const std::uint64_t d = digest(p_, link_.hosts());
    for (;;) {
      link_.try_send(link_.server_node, encode(hello_msg{rank_, d}));
      const auto next = std::min(give_up, clock::now() + link_.hello_interval);
      while (auto m = link_.receive(next)) {
        if (m->h.type == msg_type::welcome && m->h.sender == link_.server_node)
          return true;
        if (m->h.type == msg_type::reject && m->h.sender == link_.server_node)
          throw error(fmt::format("{}: the server rejected this host: {}", name_, decode_reject(*m)));
        if (m->h.type == msg_type::shutdown && m->h.sender == link_.server_node) {
          const shutdown_msg s = decode_shutdown(*m);
          if (s.reason == "stopped")
            return false;
          throw error(fmt::format("{}: the server shut down before the run began: {}", name_, s.reason));
        }
      }
      if (clock::now() >= give_up)
        throw error(fmt::format("{}: the server '{}' did not answer within {} ms (cluster.connect_timeout_s)", name_,
                                link_.server_node, link_.join_timeout.count()));
    }
  }

  void play(const phase_msg& ph) {
    if (ph.phase <= last_phase_)
      throw error(fmt::format("{}: phase {} after phase {}", name_, ph.phase, last_phase_));
    last_phase_ = ph.phase;
    if (fail_at_phase_ && *fail_at_phase_ == ph.phase)
      throw std::runtime_error(fmt::format("{}: injected failure at phase {} (test hook)", name_, ph.phase));
    const std::size_t hosts = link_.hosts();
    // The first id >= admit_from that is ours (≡ rank mod H), then every H-th.
    std::uint64_t id = ph.admit_from + (rank_ + hosts - ph.admit_from % hosts) % hosts;
    for (; id < ph.admit_to; id += hosts)
      clients_.push_back(factory_.make(id));
    upload_msg u;
    u.rank = rank_;
    u.phase = ph.phase;
    u.arms = ph.active.size();
    for (auto& c : clients_) {
      c.play_phase(ph.active, ph.pulls);
      const std::vector<float> up = c.upload(ph.active);
      u.clients.push_back(c.id());
      u.means.insert(u.means.end(), up.begin(), up.end());
    }
    pulls_ += clients_.size() * ph.active.size() * ph.pulls;
    uploads_ += clients_.size();
    link_.send(link_.server_node, encode(u));
    auto rec = runtime::make_record(link_.node(), name_, "trainer", ph.t_end);
    rec.update({{"phase", ph.phase},
                {"active_arms", ph.active.size()},
                {"clients", clients_.size()},
                {"pulls", pulls_},
                {"communications", uploads_},
                {"communication_cost", p_.comm_cost * static_cast<double>(uploads_)}});
    link_.record(rec);
  }

  void finish(const shutdown_msg& s) {
    auto rec = runtime::make_record(link_.node(), name_, "trainer", s.t);
    rec.update({{"phase", last_phase_},
                {"clients", clients_.size()},
                {"pulls", pulls_},
                {"communications", uploads_},
                {"communication_cost", p_.comm_cost * static_cast<double>(uploads_)},
                {"event", "shutdown"},
                {"reason", s.reason}});
    if (s.arm >= 0)
      rec["arm"] = s.arm;
    link_.record(rec);
  }

  const config::bandit_params& p_;
  const actor_link& link_;
  std::size_t rank_;
  std::string name_;
  std::optional<std::uint64_t> fail_at_phase_;
  client_factory factory_;
  std::vector<client_state> clients_;
  std::uint64_t last_phase_ = 0, pulls_ = 0, uploads_ = 0;
};

} // namespace

void run_host(const config::bandit_params& p, const actor_link& link, const host_options& o) {
  host h(p, link, o);
  try {
    h.run();
  } catch (const std::exception& e) {
    link.try_send(link.server_node, encode_reject(server_actor, o.rank, e.what()));
    throw;
  }
}

} // namespace troupe::bandit
