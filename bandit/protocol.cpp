#include "bandit/protocol.hpp"

#include <limits>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/fnv1a.hpp"

namespace troupe::bandit {

namespace {

using net::msg_type;

nlohmann::json meta_of(const net::message& m, msg_type expected) {
  if (m.h.type != expected)
    throw error(fmt::format("expected a {} message, got {}", net::to_string(expected), net::to_string(m.h.type)));
  auto meta = nlohmann::json::parse(m.h.meta, nullptr, false);
  if (!meta.is_object())
    throw error(fmt::format("{} from '{}': meta is not a JSON object", net::to_string(m.h.type), m.h.sender));
  return meta;
}

template <class T>
T field(const nlohmann::json& meta, const char* key, const net::message& m) {
  const auto it = meta.find(key);
  try {
    if (it != meta.end())
      return it->get<T>();
  } catch (const nlohmann::json::exception&) {
  }
  throw error(fmt::format("{} from '{}': missing or malformed field '{}'", net::to_string(m.h.type), m.h.sender, key));
}

/// Tensor `name` of m as T, with exactly `count` elements.
template <class T>
net::tensor_view<T> tensor(const net::message& m, const char* name, std::size_t count) {
  const auto i = m.find(name);
  if (!i)
    throw error(fmt::format("{} from '{}': no tensor '{}'", net::to_string(m.h.type), m.h.sender, name));
  const auto v = m.view<T>(*i);
  if (v.size != count)
    throw error(fmt::format("{} from '{}': tensor '{}' holds {} values, expected {}", net::to_string(m.h.type),
                            m.h.sender, name, v.size, count));
  return v;
}

std::vector<std::int32_t> to_i32(const std::vector<std::uint64_t>& v) {
  std::vector<std::int32_t> out;
  for (auto x : v) {
    TROUPE_ENFORCE(x <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()), "id {} exceeds i32", x);
    out.push_back(static_cast<std::int32_t>(x));
  }
  return out;
}

} // namespace

std::string host_actor(std::size_t rank) {
  return fmt::format("trainer-{}", rank);
}

std::uint64_t digest(const config::bandit_params& p, std::size_t hosts) {
  const nlohmann::json j = {{"algorithm", config::to_string(p.algorithm)},
                            {"means", p.means},
                            {"sigma", p.sigma},
                            {"sigma_c", p.sigma_c},
                            {"T", p.horizon},
                            {"C", p.comm_cost},
                            {"kappa", p.kappa},
                            {"f", static_cast<int>(p.f)},
                            {"g", {static_cast<int>(p.g), p.g_value, p.max_clients}},
                            {"c", {p.c1, p.c2}},
                            {"exact", {p.clients, static_cast<int>(p.exact), p.exact_low}},
                            {"seed", p.seed},
                            {"hosts", hosts}};
  return fnv1a(j.dump()); // over the canonical JSON text
}

net::message make_message(net::msg_type t, const std::string& to, nlohmann::json meta) {
  net::message m(t);
  m.h.to = {to};
  m.h.meta = meta.dump();
  return m;
}

std::string destination(const net::message& m) {
  if (m.h.to.size() != 1)
    throw error(fmt::format("{} from '{}' names {}", net::to_string(m.h.type), m.h.sender,
                            m.h.to.empty() ? std::string("no destination actor")
                                           : fmt::format("{} destination actors, not one", m.h.to.size())));
  return m.h.to.front();
}

net::message encode(const hello_msg& h) {
  return make_message(msg_type::hello, server_actor, {{"rank", h.rank}, {"digest", h.digest}});
}

net::message encode_welcome(std::size_t rank, std::size_t hosts) {
  return make_message(msg_type::welcome, host_actor(rank), {{"rank", rank}, {"hosts", hosts}});
}

net::message encode_reject(const std::string& to, std::size_t rank, const std::string& reason) {
  return make_message(msg_type::reject, to, {{"rank", rank}, {"reason", reason}});
}

net::message encode(const phase_msg& p, std::size_t rank) {
  auto m = make_message(msg_type::params, host_actor(rank),
                        {{"phase", p.phase},
                         {"pulls", p.pulls},
                         {"admit_from", p.admit_from},
                         {"admit_to", p.admit_to},
                         {"t_end", p.t_end}});
  m.h.step = m.h.clock = p.phase;
  const std::vector<std::uint64_t> arms(p.active.begin(), p.active.end());
  m.add_tensor("active", {static_cast<std::uint32_t>(arms.size())}, to_i32(arms));
  return m;
}

net::message encode_ucb1_start(std::size_t rank) {
  return make_message(msg_type::params, host_actor(rank), {{"ucb1", true}});
}

net::message encode(const upload_msg& u) {
  TROUPE_ENFORCE(u.means.size() == u.clients.size() * u.arms, "{} means for {} clients × {} arms", u.means.size(),
                 u.clients.size(), u.arms);
  auto m = make_message(msg_type::push_gradient, server_actor, {{"rank", u.rank}, {"phase", u.phase}});
  m.h.step = m.h.clock = u.phase;
  const auto n = static_cast<std::uint32_t>(u.clients.size());
  m.add_tensor("clients", {n}, to_i32(u.clients));
  m.add_tensor_copy("local_means", {n, static_cast<std::uint32_t>(u.arms)}, u.means.data(), u.means.size());
  return m;
}

net::message encode_ucb1_result(std::size_t rank, const run_result& r) {
  return make_message(msg_type::metrics, server_actor, {{"rank", rank}, {"result", to_json(r)}});
}

net::message encode(const shutdown_msg& s, std::size_t rank) {
  return make_message(msg_type::shutdown, host_actor(rank), {{"reason", s.reason}, {"arm", s.arm}, {"t", s.t}});
}

hello_msg decode_hello(const net::message& m) {
  const auto meta = meta_of(m, msg_type::hello);
  return {field<std::size_t>(meta, "rank", m), field<std::uint64_t>(meta, "digest", m)};
}

phase_msg decode_phase(const net::message& m, std::size_t arms) {
  const auto meta = meta_of(m, msg_type::params);
  phase_msg p;
  p.phase = field<std::uint64_t>(meta, "phase", m);
  p.pulls = field<std::uint64_t>(meta, "pulls", m);
  p.admit_from = field<std::uint64_t>(meta, "admit_from", m);
  p.admit_to = field<std::uint64_t>(meta, "admit_to", m);
  p.t_end = field<std::uint64_t>(meta, "t_end", m);
  if (p.phase == 0 || p.pulls == 0 || p.admit_from > p.admit_to)
    throw error(fmt::format("params from '{}': phase {}, pulls {}, admissions [{}, {}) make no sense", m.h.sender,
                            p.phase, p.pulls, p.admit_from, p.admit_to));
  const auto i = m.find("active");
  const std::size_t n = i ? m.h.tensors[*i].elements() : 0;
  if (n == 0 || n > arms)
    throw error(fmt::format("params from '{}': {} active arms, expected 1..{}", m.h.sender, n, arms));
  for (std::int32_t a : tensor<std::int32_t>(m, "active", n)) {
    if (a < 0 || static_cast<std::size_t>(a) >= arms ||
        (!p.active.empty() && static_cast<std::size_t>(a) <= p.active.back()))
      throw error(fmt::format("params from '{}': active arms must ascend within [0, {}), got {}", m.h.sender, arms, a));
    p.active.push_back(static_cast<std::size_t>(a));
  }
  return p;
}

upload_msg decode_upload(const net::message& m) {
  const auto meta = meta_of(m, msg_type::push_gradient);
  upload_msg u;
  u.rank = field<std::size_t>(meta, "rank", m);
  u.phase = field<std::uint64_t>(meta, "phase", m);
  const auto i = m.find("local_means");
  if (!i || m.h.tensors[*i].shape.size() != 2)
    throw error(fmt::format("push_gradient from '{}': expected a tensor 'local_means' [clients, arms]", m.h.sender));
  const std::size_t n = m.h.tensors[*i].shape[0];
  u.arms = m.h.tensors[*i].shape[1];
  for (std::int32_t id : tensor<std::int32_t>(m, "clients", n)) {
    if (id < 0 || (!u.clients.empty() && static_cast<std::uint64_t>(id) <= u.clients.back()))
      throw error(fmt::format("push_gradient from '{}': client ids must ascend and be >= 0, got {}", m.h.sender, id));
    u.clients.push_back(static_cast<std::uint64_t>(id));
  }
  const auto means = tensor<float>(m, "local_means", n * u.arms);
  u.means.assign(means.begin(), means.end());
  return u;
}

run_result decode_ucb1_result(const net::message& m) {
  const auto meta = meta_of(m, msg_type::metrics);
  return result_from_json(field<nlohmann::json>(meta, "result", m));
}

shutdown_msg decode_shutdown(const net::message& m) {
  const auto meta = meta_of(m, msg_type::shutdown);
  return {field<std::string>(meta, "reason", m), field<long long>(meta, "arm", m), field<std::uint64_t>(meta, "t", m)};
}

std::string decode_reject(const net::message& m) {
  return field<std::string>(meta_of(m, msg_type::reject), "reason", m);
}

bool is_ucb1_start(const net::message& m) {
  const auto meta = meta_of(m, msg_type::params);
  const auto it = meta.find("ucb1");
  return it != meta.end() && it->is_boolean() && it->get<bool>();
}

} // namespace troupe::bandit
