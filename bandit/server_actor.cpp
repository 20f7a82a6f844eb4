#include "bandit/server_actor.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "bandit/protocol.hpp"
#include "bandit/server_session.hpp"
#include "common/error.hpp"
#include "runtime/metrics_actor.hpp"

namespace troupe::bandit {

namespace {

using clock = actor_link::clock;
using net::msg_type;

class server {
public:
  server(const config::bandit_params& p, const actor_link& link)
      : p_(p), link_(link), digest_(digest(p, link.hosts())), joined_(link.hosts(), false) {}

  run_result run() {
    join();
    run_result r = p_.algorithm == config::bandit_algorithm::ucb1 ? play_ucb1() : play_federated();
    log_done(r);
    goodbye({"done", r.chosen ? static_cast<long long>(*r.chosen) : -1, p_.horizon});
    return r;
  }

  void goodbye(const shutdown_msg& s) const {
    for (std::size_t rank = 0; rank < link_.hosts(); ++rank)
      link_.try_send(link_.host_nodes[rank], encode(s, rank));
  }

private:
  /// Waits until every host said hello with the same digest.
  void join() {
    const auto deadline = clock::now() + link_.join_timeout;
    std::size_t missing = link_.hosts();
    while (missing > 0) {
      auto m = next(deadline);
      if (!m)
        throw error(fmt::format("{} of {} client hosts did not say hello within {} ms (cluster.connect_timeout_s)",
                                missing, link_.hosts(), link_.join_timeout.count()));
      if (m->h.type != msg_type::hello) {
        other(*m);
      } else if (const auto rank = welcome(*m); rank && !joined_[*rank]) {
        joined_[*rank] = true;
        --missing;
      }
    }
  }

  /// The next message (nothing at `deadline`); notes when its sender's node was last heard of.
  std::optional<net::message> next(clock::time_point deadline) {
    auto m = link_.receive(deadline);
    if (m)
      heard_[m->h.sender] = clock::now();
    return m;
  }

  /// Answers a hello and returns the host's rank; nothing (and a warning) when it is not one of ours.
  std::optional<std::size_t> welcome(const net::message& m) {
    try {
      const hello_msg h = decode_hello(m);
      if (h.rank < link_.hosts() && link_.host_nodes[h.rank] != m.h.sender) {
        link_.refuse_unauthorized(fmt::format("a hello from '{}' as {}, which runs on '{}'", m.h.sender,
                                              host_actor(h.rank), link_.host_nodes[h.rank]));
        return std::nullopt;
      }
      if (h.rank >= link_.hosts())
        throw error(fmt::format("hello from '{}' claims rank {}, but the run has {} client hosts", m.h.sender, h.rank,
                                link_.hosts()));
      if (h.digest != digest_) {
        link_.try_send(m.h.sender, encode_reject(host_actor(h.rank), h.rank,
                                                 "its bandit parameters differ from the server's (start every "
                                                 "process with the same file and --set options)"));
        throw error(fmt::format("host {} on '{}' runs different bandit parameters", h.rank, m.h.sender));
      }
      link_.send(m.h.sender, encode_welcome(h.rank, link_.hosts()));
      return h.rank;
    } catch (const error& e) {
      link_.warn(fmt::format("refused a hello: {}", e.what()));
      return std::nullopt;
    }
  }

  /// Anything but the expected reply: a failed host ends the run, the rest is logged and dropped.
  void other(const net::message& m) {
    if (m.h.type == msg_type::heartbeat) // the runtime of a host's node: it is alive (see next())
      return;
    if (m.h.type == msg_type::hello) {
      welcome(m); // a host repeating its hello before it saw the welcome
      return;
    }
    if (m.h.type == msg_type::reject) {
      if (std::find(link_.host_nodes.begin(), link_.host_nodes.end(), m.h.sender) == link_.host_nodes.end())
        return link_.refuse_unauthorized(fmt::format("a reject from '{}', which runs no client host", m.h.sender));
      throw error(fmt::format("client host on '{}' failed: {}", m.h.sender, decode_reject(m)));
    }
    link_.warn(fmt::format("ignored an unexpected {} from '{}'", net::to_string(m.h.type), m.h.sender));
  }

  /// The next message. Throws when none came within silence_timeout, or when a node in `waiting_for`
  /// (other than this one, whose actors its supervisor watches) sent nothing, not even its runtime's
  /// heartbeat, for cluster.failure_timeout_s: that node is lost.
  net::message await(const char* what, const std::string& from, const std::vector<std::string>& waiting_for) {
    using std::chrono::milliseconds;
    const auto give_up = clock::now() + link_.silence_timeout;
    const auto check = std::max(milliseconds(10), std::min(link_.hello_interval, link_.failure_timeout / 10));
    for (;;) {
      const auto now = clock::now();
      if (now >= give_up)
        throw error(fmt::format("no {} from '{}' within {} ms", what, from, link_.silence_timeout.count()));
      if (auto m = next(std::min(give_up, now + check)))
        return std::move(*m);
      for (const auto& node : waiting_for)
        if (const auto it = heard_.find(node);
            node != link_.node() && it != heard_.end() && clock::now() - it->second > link_.failure_timeout)
          throw error(fmt::format("client host node '{}' sent nothing, not even a heartbeat, for more than {} ms "
                                  "(cluster.failure_timeout_s): it is lost",
                                  node, link_.failure_timeout.count()));
    }
  }

  run_result play_ucb1() {
    link_.send(link_.host_nodes[0], encode_ucb1_start(0));
    for (;;) {
      net::message m = await("ucb1 result", link_.host_nodes[0], {link_.host_nodes[0]});
      if (m.h.type == msg_type::metrics && m.h.sender == link_.host_nodes[0])
        return decode_ucb1_result(m);
      other(m);
    }
  }

  run_result play_federated() {
    server_session session(p_);
    const std::size_t hosts = link_.hosts();
    while (auto plan = session.next_phase()) {
      if (!plan->uploads)
        continue;
      const std::size_t busy = static_cast<std::size_t>(std::min<std::uint64_t>(hosts, plan->clients));
      const std::uint64_t t_end = plan->t_begin + plan->steps;
      for (std::size_t rank = 0; rank < busy; ++rank)
        link_.send(
            link_.host_nodes[rank],
            encode(phase_msg{plan->phase, plan->pulls, plan->first_new, plan->clients, t_end, plan->active}, rank));
      std::vector<bool> got(busy, false);
      while (!session.complete()) {
        std::vector<std::string> waiting_for;
        for (std::size_t rank = 0; rank < busy; ++rank)
          if (!got[rank])
            waiting_for.push_back(link_.host_nodes[rank]);
        net::message m = await("local means", fmt::format("{} client hosts", busy), waiting_for);
        if (m.h.type != msg_type::push_gradient) {
          other(m);
          continue;
        }
        try {
          accept(session, *plan, decode_upload(m), m.h.sender, got);
        } catch (const error& e) {
          link_.warn(fmt::format("refused local means from '{}': {}", m.h.sender, e.what()));
        }
      }
      log_phase(session.finish_phase(), session);
    }
    return session.result();
  }

  /// Checks that an upload is exactly the means of host u.rank's clients for this phase.
  void accept(server_session& session, const phase_plan& plan, const upload_msg& u, const std::string& sender,
              std::vector<bool>& got) {
    const std::size_t hosts = link_.hosts();
    if (u.rank < hosts && link_.host_nodes[u.rank] != sender)
      return link_.refuse_unauthorized(fmt::format("local means from '{}' as {}, which runs on '{}'", sender,
                                                   host_actor(u.rank), link_.host_nodes[u.rank]));
    if (u.rank >= got.size() || u.phase != plan.phase || got[u.rank])
      throw error(fmt::format("rank {} phase {} is not an upload this phase {} expects", u.rank, u.phase, plan.phase));
    const std::uint64_t expected = (plan.clients - u.rank + hosts - 1) / hosts; // ids rank, rank + H, ... < M(p)
    if (u.arms != plan.active.size() || u.clients.size() != expected)
      throw error(fmt::format("{} clients × {} arms, expected {} × {}", u.clients.size(), u.arms, expected,
                              plan.active.size()));
    for (std::size_t i = 0; i < u.clients.size(); ++i)
      if (u.clients[i] != u.rank + i * hosts)
        throw error(fmt::format("client {} is not host {}'s", u.clients[i], u.rank));
    for (std::size_t i = 0; i < u.clients.size(); ++i)
      session.receive(u.clients[i], u.means.data() + i * u.arms, u.arms);
    got[u.rank] = true;
  }

  void log_phase(const phase_record& r, const server_session& s) {
    auto rec = runtime::make_record(link_.node(), server_actor, "aggregator", r.t);
    rec.update({{"phase", r.phase},
                {"active_arms", r.active_arms},
                {"active", s.state().active()},
                {"eliminated", r.eliminated},
                {"clients", r.clients},
                {"bound", r.bound},
                {"cumulative_regret", r.cumulative_regret},
                {"communication_cost", r.communication_cost}});
    link_.record(rec);
    if (!r.eliminated.empty())
      link_.line(fmt::format("phase {:>4}  t={:<10} clients={:<7} active={:<4} eliminated [{}]  B={:.4g}  "
                             "regret={:.1f} (communication {:.0f})",
                             r.phase, r.t, r.clients, r.active_arms, fmt::join(r.eliminated, ", "), r.bound,
                             r.cumulative_regret, r.communication_cost));
  }

  void log_done(const run_result& r) {
    auto rec = runtime::make_record(link_.node(), server_actor, "aggregator", r.horizon);
    rec.update(to_json(r));
    rec["phase"] = r.phases;
    rec["active_arms"] = r.active.size();
    rec["event"] = "done";
    rec["best_arm"] = config::best_arm(p_);
    rec["found_best"] = r.found_best(p_);
    link_.record(rec);
    link_.line(fmt::format("{} done: T={} phases={} clients={} arm={} (best {}) regret={:.1f} (communication {:.0f})",
                           config::to_string(p_.algorithm), r.horizon, r.phases, r.clients,
                           r.chosen ? fmt::to_string(*r.chosen) : "none", config::best_arm(p_), r.regret(),
                           r.communication_cost));
  }

  const config::bandit_params& p_;
  const actor_link& link_;
  std::uint64_t digest_;
  std::vector<bool> joined_;
  std::map<std::string, clock::time_point> heard_; ///< node -> when it was last heard of
};

} // namespace

run_result run_server(const config::bandit_params& p, const actor_link& link) {
  server s(p, link);
  try {
    return s.run();
  } catch (const stop_signal&) {
    s.goodbye({"stopped", -1, 0});
    throw;
  } catch (const std::exception& e) {
    s.goodbye({fmt::format("server failed: {}", e.what()), -1, 0});
    throw;
  }
}

} // namespace troupe::bandit
