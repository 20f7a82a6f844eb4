#pragma once
/// The federated-bandit protocol on net::message. Every header names (net::header::to) the actor
/// that receives it on the destination node ("aggregator" or "trainer-<rank>"); meta is a JSON object.
///
///   host   -> server  hello {rank, digest}                     (repeated until welcomed)
///   server -> host    welcome {rank, hosts} | reject {reason}  (reject: the configs differ)
///   server -> host    params {phase, pulls, admit_from, admit_to, t_end} + active [n] i32
///                     (step = clock = phase); sent only to hosts that hold clients
///   host   -> server  push_gradient {rank, phase} + clients [c] i32 + local_means [c, n] f32
///                     (the sample means of the host's clients, one row per client, ascending ids)
///   server -> host 0  params {ucb1: true}; host 0 -> server metrics {rank, result} (ucb1 only)
///   host   -> server  reject {rank, reason}                   (a host failed)
///   server -> host    shutdown {reason, arm, t}               (arm: the chosen arm or -1)
///
/// Client m lives on host m mod H (H = trainer actors of the cluster, ranked in node order).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bandit/run_result.hpp"
#include "config/bandit_spec.hpp"
#include "net/message.hpp"

namespace troupe::bandit {

inline const std::string server_actor = "aggregator";
/// "trainer-<rank>".
std::string host_actor(std::size_t rank);

/// A fingerprint of the parameters and the host count: every process must run the same experiment.
std::uint64_t digest(const config::bandit_params& p, std::size_t hosts);

struct hello_msg {
  std::size_t rank = 0;
  std::uint64_t digest = 0;
};

struct phase_msg {
  std::uint64_t phase = 0;
  std::uint64_t pulls = 0;
  std::uint64_t admit_from = 0, admit_to = 0; ///< clients admitted in this phase: [from, to)
  std::uint64_t t_end = 0;                    ///< time steps after the phase
  std::vector<std::size_t> active;
};

struct upload_msg {
  std::size_t rank = 0;
  std::uint64_t phase = 0;
  std::vector<std::uint64_t> clients; ///< ascending client ids
  std::vector<float> means;           ///< clients.size() × arms, row-major
  std::size_t arms = 0;
};

struct shutdown_msg {
  std::string reason;
  long long arm = -1;
  std::uint64_t t = 0;
};

/// A message of type t for actor `to` with meta fields `meta`.
net::message make_message(net::msg_type t, const std::string& to, nlohmann::json meta = nlohmann::json::object());
/// The one actor the header names; throws troupe::error if it names none or several.
std::string destination(const net::message& m);

net::message encode(const hello_msg& h);
net::message encode_welcome(std::size_t rank, std::size_t hosts);
net::message encode_reject(const std::string& to, std::size_t rank, const std::string& reason);
net::message encode(const phase_msg& p, std::size_t rank);
net::message encode_ucb1_start(std::size_t rank);
net::message encode(const upload_msg& u);
net::message encode_ucb1_result(std::size_t rank, const run_result& r);
net::message encode(const shutdown_msg& s, std::size_t rank);

/// Each reader checks the type and every field and throws troupe::error saying what is wrong.
hello_msg decode_hello(const net::message& m);
phase_msg decode_phase(const net::message& m, std::size_t arms);
upload_msg decode_upload(const net::message& m);
run_result decode_ucb1_result(const net::message& m);
shutdown_msg decode_shutdown(const net::message& m);
/// The "reason" of a reject message.
std::string decode_reject(const net::message& m);
/// Whether a params message starts a ucb1 run.
bool is_ucb1_start(const net::message& m);

} // namespace troupe::bandit
