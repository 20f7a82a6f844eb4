#include "config/bandit_spec.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/rng.hpp"
#include "config/yaml_util.hpp"

namespace troupe::config {

namespace {

const std::vector<std::string> top_level_keys = {"cluster", "bandit", "metrics"};
const std::vector<std::string> metrics_keys = {"dir", "console"};
const std::vector<std::string> bandit_keys = {"algorithm", "K",    "means",   "generator",   "sigma", "sigma_c",
                                              "T",         "C",    "kappa",   "f",           "g",     "c1",
                                              "c2",        "seed", "clients", "max_clients", "exact"};
/// Keys that only some algorithms read; every other key applies to all.
const std::map<std::string, std::vector<bandit_algorithm>> algorithm_keys = {
    {"sigma_c", {bandit_algorithm::fed2_ucb, bandit_algorithm::fed1_ucb}},
    {"C", {bandit_algorithm::fed2_ucb, bandit_algorithm::fed1_ucb}},
    {"kappa", {bandit_algorithm::fed2_ucb, bandit_algorithm::fed1_ucb}},
    {"f", {bandit_algorithm::fed2_ucb, bandit_algorithm::fed1_ucb}},
    {"c1", {bandit_algorithm::fed2_ucb, bandit_algorithm::fed1_ucb}},
    {"g", {bandit_algorithm::fed2_ucb}},
    {"c2", {bandit_algorithm::fed2_ucb}},
    {"max_clients", {bandit_algorithm::fed2_ucb}},
    {"clients", {bandit_algorithm::fed1_ucb}},
    {"exact", {bandit_algorithm::fed1_ucb}},
};
const std::vector<std::string> algorithm_names = {"fed2_ucb", "fed1_ucb", "ucb1"};
constexpr const char* id_placeholder = "<cluster id>";
constexpr std::uint64_t max_arms = 1 << 16;

/// Reads `bandit.means` or `bandit.generator` (exactly one) into μ_k.
std::vector<double> read_means(const yaml_cursor& b, std::uint64_t seed) {
  const auto list = b.find("means");
  const auto gen = b.find("generator");
  const auto k = b.optional<std::uint64_t>("K", bounds::closed(2, max_arms));
  if (list.has_value() == gen.has_value())
    b.fail(list ? "give either 'means' or 'generator', not both"
                : "missing the arm means: give 'means: [...]' or "
                  "'generator: {kind: linear|random, gap: ...}'");
  std::vector<double> mu;
  if (list) {
    for (const auto& item : list->items())
      mu.push_back(item.as<double>());
    if (mu.size() < 2 || mu.size() > max_arms)
      list->fail(fmt::format("expected between 2 and {} arm means, got {}", max_arms, mu.size()));
    if (k && *k != mu.size())
      b.child("K").fail(fmt::format("K = {} but 'means' lists {} arms", *k, mu.size()));
  } else {
    gen->check_keys({"kind", "gap", "top", "low", "high"});
    if (!k)
      b.fail("missing key 'K': a generator needs the number of arms");
    const std::string kind = gen->child("kind").as_choice({"linear", "random"}, "generator kind");
    const double gap = gen->required<double>("gap", bounds::positive());
    if (kind == "linear") {
      const double top = gen->optional<double>("top").value_or(0.9);
      for (std::uint64_t i = 0; i < *k; ++i) // μ_k = top − (K−1−k)·gap: the last arm is the best
        mu.push_back(top - static_cast<double>(*k - 1 - i) * gap);
    } else {
      const double lo = gen->optional<double>("low").value_or(0.0);
      const double hi = gen->optional<double>("high").value_or(1.0);
      if (!(hi > lo))
        gen->child("high").fail(fmt::format("expected high > low = {}, got {}", lo, hi));
      rng r(seed ^ 0x6d65616e73ULL); // its own stream ("means"), independent of the clients' streams
      for (std::uint64_t i = 0; i < *k; ++i)
        mu.push_back(lo + (hi - lo) * r.uniform());
      // Lift the best arm so it leads the runner-up by at least `gap` (the guaranteed Δ_min).
      const auto best = std::max_element(mu.begin(), mu.end());
      double second = -bounds::inf;
      for (auto it = mu.begin(); it != mu.end(); ++it)
        if (it != best)
          second = std::max(second, *it);
      *best = std::max(*best, second + gap);
    }
  }
  const auto best = std::max_element(mu.begin(), mu.end());
  for (auto it = mu.begin(); it != mu.end(); ++it)
    if (it != best && *it == *best)
      (list ? *list : *gen)
          .fail(fmt::format("arms {} and {} share the best mean {}; the algorithms need a unique best arm",
                            best - mu.begin(), it - mu.begin(), *best));
  return mu;
}

void read_schedule(const yaml_cursor& b, bandit_params& p) {
  if (auto f = b.find("f")) {
    f->check_keys({"kind"});
    p.f =
        f->child("kind").as_choice({"constant", "log"}, "f(p) kind") == "log" ? pulls_kind::log : pulls_kind::constant;
  }
  if (auto g = b.find("g")) {
    g->check_keys({"kind", "base", "value"});
    const std::string kind = g->child("kind").as_choice({"exponential", "constant", "linear"}, "g(p) kind");
    p.g = kind == "exponential" ? admission_kind::exponential
          : kind == "constant"  ? admission_kind::constant
                                : admission_kind::linear;
    const char* other = p.g == admission_kind::exponential ? "value" : "base";
    if (g->has(other))
      g->child(other).fail(fmt::format("g kind '{}' takes '{}', not '{}'", kind,
                                       p.g == admission_kind::exponential ? "base" : "value", other));
    p.g_value = p.g == admission_kind::exponential
                    ? g->optional<std::uint64_t>("base", bounds::closed(2, 1024)).value_or(2)
                    : g->required<std::uint64_t>("value", bounds::positive());
  }
  const double default_kappa = p.algorithm == bandit_algorithm::fed1_ucb ? 10 : 100;
  p.kappa = b.optional<double>("kappa", bounds::positive()).value_or(default_kappa);
  if (p.f == pulls_kind::constant && p.kappa != std::floor(p.kappa))
    b.child("kappa").fail(fmt::format("f kind 'constant' pulls each arm kappa times, so kappa must be a whole number, "
                                      "got {}",
                                      p.kappa));
}

} // namespace

std::string to_string(bandit_algorithm a) {
  return algorithm_names[static_cast<std::size_t>(a)];
}

std::size_t best_arm(const bandit_params& p) {
  TROUPE_ENFORCE(!p.means.empty(), "a bandit needs arms");
  return static_cast<std::size_t>(std::max_element(p.means.begin(), p.means.end()) - p.means.begin());
}

bandit_params read_bandit(const yaml_cursor& b) {
  b.check_keys(bandit_keys);
  bandit_params p;
  const std::string algo = b.child("algorithm").as_choice(algorithm_names, "bandit algorithm");
  p.algorithm = static_cast<bandit_algorithm>(std::find(algorithm_names.begin(), algorithm_names.end(), algo) -
                                              algorithm_names.begin());
  for (const auto& [key, algos] : algorithm_keys)
    if (b.has(key) && std::find(algos.begin(), algos.end(), p.algorithm) == algos.end())
      b.child(key).fail(fmt::format("'{}' does not apply to {}; remove it", key, algo));

  p.seed = b.optional<std::uint64_t>("seed").value_or(p.seed);
  p.means = read_means(b, p.seed);
  p.sigma = b.required<double>("sigma", bounds::positive());
  p.horizon = b.required<std::uint64_t>("T", bounds::closed(2, 1e12));
  if (p.algorithm == bandit_algorithm::ucb1)
    return p;

  p.comm_cost = b.optional<double>("C", bounds::at_least(0)).value_or(p.comm_cost);
  p.c1 = b.optional<double>("c1", bounds::positive()).value_or(p.c1);
  if (p.algorithm == bandit_algorithm::fed1_ucb) {
    p.f = pulls_kind::log;
    p.clients = b.required<std::uint64_t>("clients", bounds::closed(1, 1e5));
    if (auto e = b.find("exact")) {
      e->check_keys({"kind", "low"});
      p.exact = e->child("kind").as_choice({"skewed", "centered"}, "exact model kind") == "centered"
                    ? exact_kind::centered
                    : exact_kind::skewed;
      if (p.exact == exact_kind::centered && e->has("low"))
        e->child("low").fail("'low' belongs to kind 'skewed'");
      p.exact_low = e->optional<double>("low", bounds::closed(0, 1)).value_or(p.exact_low);
    }
    if (p.exact == exact_kind::centered)
      p.sigma_c = b.required<double>("sigma_c", bounds::at_least(0));
    else if (b.has("sigma_c"))
      b.child("sigma_c").fail("sigma_c is only used by the exact model kind 'centered'");
  } else {
    p.sigma_c = b.required<double>("sigma_c", bounds::at_least(0));
    p.c2 = b.optional<double>("c2", bounds::positive()).value_or(p.c2);
    p.max_clients = b.optional<std::uint64_t>("max_clients", bounds::closed(1, 1e7)).value_or(p.max_clients);
  }
  read_schedule(b, p);
  return p;
}

cluster_rules bandit_cluster_rules() {
  cluster_rules r;
  r.roles = {role::aggregator, role::trainer};
  r.other_roles_note = "the bandit workload has no data loader; roles are aggregator (the server) and trainer "
                       "(hosts of the clients)";
  r.max_trainers = 1024;
  r.threads = false; // a client-host actor is one thread of control; there is no compute pool to size
  return r;
}

namespace {

bandit_spec read_spec(const yaml_cursor& parsed, const std::vector<override_kv>& overrides,
                      const std::string& base_dir) {
  YAML::Node tree = parsed.node();
  std::vector<value_origin> origins = apply_overrides(tree, overrides, parsed.source());
  const yaml_cursor root = yaml_cursor(tree, parsed.source()).with_origins(std::move(origins));
  root.check_keys(top_level_keys);
  bandit_spec out;
  out.source = parsed.source();
  out.cluster = read_cluster(root.child("cluster"), base_dir, bandit_cluster_rules());
  out.bandit = read_bandit(root.child("bandit"));
  if (const auto at = out.metrics_dir.find(id_placeholder); at != std::string::npos)
    out.metrics_dir.replace(at, std::strlen(id_placeholder), out.cluster.id);
  if (auto m = root.find("metrics")) {
    m->check_keys(metrics_keys);
    if (auto dir = m->find("dir")) {
      out.metrics_dir = dir->as<std::string>();
      if (out.metrics_dir.empty())
        dir->fail("expected a directory, got an empty string");
    }
    out.console = m->optional<bool>("console").value_or(out.console);
  }
  return out;
}

} // namespace

bandit_spec parse_bandit_spec(const std::string& yaml_text, const std::string& source_name,
                              const std::vector<override_kv>& overrides, const std::string& base_dir) {
  return read_spec(parse_yaml(yaml_text, source_name), overrides, base_dir);
}

bandit_spec load_bandit_spec(const std::string& path, const std::vector<override_kv>& overrides) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return read_spec(load_yaml_file(path), overrides, dir.empty() ? "." : dir);
}

} // namespace troupe::config
