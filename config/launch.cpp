#include "config/launch.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

#include <fmt/format.h>

#include "common/error.hpp"
#include "config/cluster_spec.hpp"
#include "config/endpoint.hpp"
#include "config/yaml_util.hpp"

namespace troupe::config {

namespace {

const std::vector<std::string> launch_keys = {"port",      "interface",   "trainers_per_node", "threads",
                                              "timeout_s", "public_keys", "max_trainers"};

/// A whole non-negative number, or nothing.
std::optional<std::size_t> whole(const char* text) {
  if (text == nullptr || *text == '\0')
    return std::nullopt;
  std::size_t v = 0;
  const std::string_view s(text);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size())
    return std::nullopt;
  return v;
}

/// Checks a tcp://HOST:PORT rendezvous address; `what` names where it came from.
std::string checked_rendezvous(const std::string& text, const std::string& what) {
  endpoint_address a;
  try {
    a = parse_endpoint(text);
  } catch (const error& e) {
    throw error(fmt::format("{}: {}", what, e.what()));
  }
  if (a.kind != transport::tcp || a.ephemeral())
    throw error(fmt::format("{}: the rendezvous must be tcp://HOST:PORT with a fixed port, got '{}'", what, text));
  return to_string(a);
}

/// The environment's rank and world size from two variables, checked.
launch_env read_rank(const env_lookup& env, const char* launcher, const char* rank_var, const char* world_var,
                     std::size_t rank_offset = 0) {
  const char* r = env(rank_var);
  const char* w = env(world_var);
  const auto rank = whole(r);
  const auto world = whole(w);
  if (!rank)
    throw error(fmt::format("launcher {}: {}='{}' is not a rank (a whole number)", launcher, rank_var, r ? r : ""));
  if (!world)
    throw error(
        fmt::format("launcher {}: {}='{}' is not a world size (a whole number)", launcher, world_var, w ? w : ""));
  launch_env out;
  out.launcher = launcher;
  out.rank = *rank + rank_offset;
  out.world = *world;
  out.evidence = fmt::format("{}={} {}={}", rank_var, r, world_var, w);
  if (out.world < 2)
    throw error(fmt::format("launcher {}: {}: a job needs at least 2 processes (the aggregator and a trainer), got {}",
                            launcher, out.evidence, out.world));
  if (out.rank >= out.world)
    throw error(fmt::format("launcher {}: {}: rank {} is not below the world size {}", launcher, out.evidence, out.rank,
                            out.world));
  return out;
}

/// The ordinal at the end of a StatefulSet pod's host name ("trainer-3" -> 3).
std::optional<std::size_t> pod_ordinal(const char* hostname) {
  if (hostname == nullptr)
    return std::nullopt;
  const std::string_view h(hostname);
  const auto dash = h.rfind('-');
  if (dash == std::string_view::npos || dash + 1 == h.size())
    return std::nullopt;
  return whole(std::string(h.substr(dash + 1)).c_str());
}

} // namespace

launch_spec read_launch(const yaml_cursor& c) {
  launch_spec out;
  if (auto r = c.find("rendezvous")) {
    const auto text = r->as<std::string>();
    try {
      out.rendezvous = checked_rendezvous(text, "cluster.rendezvous");
    } catch (const error& e) {
      r->fail(e.what());
    }
    out.rendezvous_where = r->where();
  }
  auto l = c.find("launch");
  if (!l)
    return out;
  out.present = true;
  if (out.rendezvous_where.empty())
    out.rendezvous_where = l->where();
  if (l->node().IsNull())
    return out;
  l->check_keys(launch_keys);
  out.port = static_cast<std::uint16_t>(l->optional<unsigned>("port", bounds::closed(1, 65535)).value_or(out.port));
  out.interface = l->optional<std::string>("interface").value_or("");
  out.trainers_per_node =
      l->optional<std::size_t>("trainers_per_node", bounds::closed(1, 64)).value_or(out.trainers_per_node);
  out.threads = l->optional<std::size_t>("threads", bounds::closed(1, 256)).value_or(out.threads);
  out.timeout_s = l->optional<double>("timeout_s", bounds::positive()).value_or(out.timeout_s);
  if (auto m = l->find("max_trainers")) {
    out.max_trainers = m->as<std::size_t>(bounds::closed(1, 4096));
    out.max_trainers_where = m->where();
  }
  if (auto keys = l->find("public_keys")) {
    keys->expect_map();
    for (const auto& name : keys->keys())
      out.public_keys[name] = read_public_key(keys->child(name));
  }
  return out;
}

std::optional<launch_env> detect_launcher(const env_lookup& env, std::uint16_t default_port) {
  std::optional<launch_env> out;
  if (env("TROUPE_RANK") != nullptr || env("TROUPE_WORLD_SIZE") != nullptr) {
    if (env("TROUPE_RANK") != nullptr)
      out = read_rank(env, "troupe", "TROUPE_RANK", "TROUPE_WORLD_SIZE");
    else if (const auto ordinal = pod_ordinal(env("HOSTNAME"))) {
      // Kubernetes: a StatefulSet names its pods <set>-<ordinal>; the manifest sets the world size
      // and where this set's ranks start (0 for the aggregator's set, 1 for the trainers').
      const auto offset = whole(env("TROUPE_RANK_OFFSET") ? env("TROUPE_RANK_OFFSET") : "0");
      if (!offset)
        throw error(fmt::format("launcher kubernetes: TROUPE_RANK_OFFSET='{}' is not a whole number",
                                env("TROUPE_RANK_OFFSET")));
      const std::string ord = std::to_string(*ordinal);
      const env_lookup with_ordinal = [&](const char* k) {
        return std::string_view(k) == "TROUPE_POD_ORDINAL" ? ord.c_str() : env(k);
      };
      out = read_rank(with_ordinal, "kubernetes", "TROUPE_POD_ORDINAL", "TROUPE_WORLD_SIZE", *offset);
      out->evidence = fmt::format("HOSTNAME={} TROUPE_RANK_OFFSET={} TROUPE_WORLD_SIZE={}", env("HOSTNAME"), *offset,
                                  env("TROUPE_WORLD_SIZE"));
    } else
      throw error(fmt::format("launcher troupe: TROUPE_WORLD_SIZE is set but neither TROUPE_RANK nor a pod ordinal "
                              "at the end of HOSTNAME ('{}') gives this process's rank",
                              env("HOSTNAME") ? env("HOSTNAME") : ""));
  } else if (env("SLURM_PROCID") != nullptr && env("SLURM_NTASKS") != nullptr) {
    out = read_rank(env, "slurm", "SLURM_PROCID", "SLURM_NTASKS");
    const char* list = env("SLURM_JOB_NODELIST") ? env("SLURM_JOB_NODELIST") : env("SLURM_STEP_NODELIST");
    if (list != nullptr) {
      const auto hosts = expand_slurm_nodelist(list);
      if (!hosts.empty())
        out->rendezvous = fmt::format("tcp://{}:{}", hosts.front(), default_port);
      out->evidence += fmt::format(" SLURM_JOB_NODELIST={}", list);
    }
  } else if (env("OMPI_COMM_WORLD_RANK") != nullptr) {
    out = read_rank(env, "openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE");
  } else if (env("PMI_RANK") != nullptr) {
    out = read_rank(env, "pmi", "PMI_RANK", "PMI_SIZE");
  } else if (env("RANK") != nullptr && env("WORLD_SIZE") != nullptr) {
    out = read_rank(env, "torchrun", "RANK", "WORLD_SIZE");
    if (env("MASTER_ADDR") != nullptr) {
      const auto port = whole(env("MASTER_PORT"));
      if (env("MASTER_PORT") != nullptr && (!port || *port == 0 || *port > 65535))
        throw error(fmt::format("launcher torchrun: MASTER_PORT='{}' is not a port", env("MASTER_PORT")));
      const std::string host = env("MASTER_ADDR");
      out->rendezvous = fmt::format("tcp://{}:{}", host.find(':') != std::string::npos ? "[" + host + "]" : host,
                                    port ? *port : default_port);
      out->evidence += fmt::format(" MASTER_ADDR={} MASTER_PORT={}", host, port ? *port : default_port);
    }
  }
  if (!out)
    return out;
  if (const char* r = env("TROUPE_RENDEZVOUS")) {
    out->rendezvous_override = checked_rendezvous(r, "TROUPE_RENDEZVOUS");
    out->evidence += fmt::format(" TROUPE_RENDEZVOUS={}", r);
  }
  if (!out->rendezvous.empty())
    out->rendezvous = checked_rendezvous(out->rendezvous, fmt::format("launcher {}: rendezvous", out->launcher));
  return out;
}

std::string rendezvous_of(const launch_env& env, const launch_spec& launch) {
  if (!env.rendezvous_override.empty())
    return env.rendezvous_override;
  if (!launch.rendezvous.empty())
    return launch.rendezvous;
  if (!env.rendezvous.empty())
    return env.rendezvous;
  throw error(fmt::format("{}: launcher {} ({}) does not say where rank 0 runs: set cluster.rendezvous: "
                          "tcp://HOST:PORT in the topology, or TROUPE_RENDEZVOUS=tcp://HOST:PORT in every process's "
                          "environment (mpirun -x TROUPE_RENDEZVOUS=...)",
                          launch.rendezvous_where, env.launcher, env.evidence));
}

std::vector<std::string> expand_slurm_nodelist(const std::string& list) {
  // Grammar: item (',' item)*, item = prefix ('[' range (',' range)* ']' suffix?)?, range = N | N-M,
  // where N keeps its zero padding ("node[01-03]" -> node01 node02 node03).
  std::vector<std::string> out;
  std::size_t i = 0;
  const auto bad = [&](const std::string& why) {
    return error(fmt::format("SLURM_JOB_NODELIST '{}': {} at character {}", list, why, i + 1));
  };
  while (i < list.size()) {
    std::string prefix;
    while (i < list.size() && list[i] != ',' && list[i] != '[')
      prefix += list[i++];
    if (i < list.size() && list[i] == '[') {
      const auto close = list.find(']', i);
      if (close == std::string::npos)
        throw bad("'[' without ']'");
      const std::string ranges = list.substr(i + 1, close - i - 1);
      i = close + 1;
      std::string suffix;
      while (i < list.size() && list[i] != ',')
        suffix += list[i++];
      std::size_t p = 0;
      while (p <= ranges.size()) {
        const auto comma = std::min(ranges.find(',', p), ranges.size());
        const std::string r = ranges.substr(p, comma - p);
        const auto dash = r.find('-');
        const std::string lo = r.substr(0, dash);
        const std::string hi = dash == std::string::npos ? lo : r.substr(dash + 1);
        const auto a = whole(lo.c_str()), b = whole(hi.c_str());
        if (!a || !b || *b < *a || *b - *a > 100000)
          throw bad(fmt::format("bad range '{}'", r));
        for (std::size_t n = *a; n <= *b; ++n) {
          std::string digits = std::to_string(n);
          if (digits.size() < lo.size())
            digits.insert(0, lo.size() - digits.size(), '0');
          out.push_back(prefix + digits + suffix);
        }
        p = comma + 1;
      }
    } else if (!prefix.empty()) {
      out.push_back(prefix);
    }
    if (i < list.size() && list[i] == ',')
      ++i;
  }
  return out;
}

std::string launched_node_name(std::size_t rank) {
  return rank == 0 ? "agg" : fmt::format("t{}", rank - 1);
}

std::size_t max_world_of(const launch_spec& launch, std::size_t world) {
  if (launch.max_trainers == 0)
    return world;
  if (launch.max_trainers + 1 < world)
    throw error(fmt::format("{}: cluster.launch.max_trainers is {}, but the launcher started {} trainer processes; "
                            "raise max_trainers or launch fewer",
                            launch.max_trainers_where, launch.max_trainers, world - 1));
  return launch.max_trainers + 1;
}

std::string nodes_override(const std::vector<launched_member>& members, const launch_spec& launch) {
  std::string out = "[";
  for (std::size_t i = 0; i < members.size(); ++i) {
    TROUPE_ENFORCE(members[i].rank == i, "membership out of rank order at {}", i);
    TROUPE_ENFORCE(i > 0 || !members[i].endpoint.empty(), "rank 0 has no endpoint");
    const std::string name = launched_node_name(i);
    const std::string endpoint = members[i].endpoint.empty() ? "later" : members[i].endpoint;
    out += i == 0 ? "" : ", ";
    out += i == 0 ? fmt::format("{{name: {}, roles: [aggregator, loader], endpoint: '{}'", name, endpoint)
                  : fmt::format("{{name: {}, roles: [trainer], endpoint: '{}', trainers: {}, threads: {}", name,
                                endpoint, launch.trainers_per_node, launch.threads);
    if (auto k = launch.public_keys.find(name); k != launch.public_keys.end())
      out += fmt::format(", public_key: '{}'", k->second);
    out += "}";
  }
  return out + "]";
}

} // namespace troupe::config
