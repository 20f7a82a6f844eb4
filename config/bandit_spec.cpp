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

const std::vector<std::string> top_level_keys = {"cluster", "bandit", "metrics", "sweep"};
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

/// `exact: {kind: skewed|centered, low: a}`, the exact model of Fed1-UCB.
void read_exact(const yaml_cursor& e, bandit_params& p) {
  e.check_keys({"kind", "low"});
  p.exact = e.child("kind").as_choice({"skewed", "centered"}, "exact model kind") == "centered" ? exact_kind::centered
                                                                                                : exact_kind::skewed;
  if (p.exact == exact_kind::centered && e.has("low"))
    e.child("low").fail("'low' belongs to kind 'skewed'");
  p.exact_low = e.optional<double>("low", bounds::closed(0, 1)).value_or(p.exact_low);
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
    if (auto e = b.find("exact"))
      read_exact(*e, p);
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
  r.aggregator_shards = false; // one server
  r.roles = {role::aggregator, role::trainer};
  r.other_roles_note = "the bandit workload has no data loader; roles are aggregator (the server) and trainer "
                       "(hosts of the clients)";
  r.max_trainers = 1024;
  r.threads = false; // a client-host actor is one thread of control; there is no compute pool to size
  return r;
}

namespace {

/// The optional `sweep` section (fed_bandit_sweep's own settings) into `out`, whose fed1 already holds the environment.
void read_sweep_section(const yaml_cursor& s, bandit_sweep_spec& out) {
  s.check_keys({"seeds", "points", "ucb1", "fed1"});
  out.seeds = s.optional<std::uint64_t>("seeds", bounds::closed(1, 1e6)).value_or(out.seeds);
  out.points = s.optional<std::uint64_t>("points", bounds::closed(2, 1e5)).value_or(out.points);
  out.run_ucb1 = s.optional<bool>("ucb1").value_or(out.run_ucb1);
  if (auto f = s.find("fed1")) {
    f->check_keys({"clients", "kappa", "c1", "exact"});
    bandit_params& p = out.fed1;
    p.clients = f->optional<std::uint64_t>("clients", bounds::closed(1, 1e5)).value_or(p.clients);
    p.kappa = f->optional<double>("kappa", bounds::positive()).value_or(p.kappa);
    p.c1 = f->optional<double>("c1", bounds::positive()).value_or(p.c1);
    if (auto e = f->find("exact"))
      read_exact(*e, p);
  }
}

/// `root` with `settings` applied in order, each cited by its own label.
yaml_cursor with_settings(const yaml_cursor& parsed, const std::vector<sweep_setting>& settings) {
  YAML::Node tree = parsed.node();
  std::vector<value_origin> origins;
  for (const auto& s : settings) {
    try {
      origins.push_back({apply_overrides(tree, {s.kv}, parsed.source()).front().path, s.label});
    } catch (const error& e) {
      // apply_overrides cites "--set path=value"; a flag's error should cite the flag as typed.
      const std::string message = e.what(), generic = override_label(s.kv);
      throw error(message.rfind(generic, 0) == 0 ? s.label + message.substr(generic.size()) : s.label + ": " + message);
    }
  }
  return yaml_cursor(tree, parsed.source()).with_origins(std::move(origins));
}

bandit_sweep_spec read_sweep(const yaml_cursor& parsed, const std::vector<sweep_setting>& settings) {
  const yaml_cursor root = with_settings(parsed, settings);
  root.check_keys(top_level_keys);
  bandit_sweep_spec out;
  out.source = parsed.source();
  const yaml_cursor b = root.child("bandit");
  out.fed2 = read_bandit(b);
  if (out.fed2.algorithm != bandit_algorithm::fed2_ucb)
    b.child("algorithm")
        .fail(fmt::format("fed_bandit_sweep reads the arms, sigma, T, C, seed and Fed2-UCB's "
                          "constants from a fed2_ucb section (Fed1-UCB's go in sweep.fed1), got {}",
                          to_string(out.fed2.algorithm)));
  // Fed1-UCB and UCB1 on the same environment; their defaults are read_bandit's.
  out.fed1 = out.fed2;
  out.fed1.algorithm = bandit_algorithm::fed1_ucb;
  out.fed1.f = pulls_kind::log;
  out.fed1.kappa = 10;
  out.fed1.c1 = 6;
  out.fed1.clients = 5;
  out.ucb1 = out.fed2;
  out.ucb1.algorithm = bandit_algorithm::ucb1;
  out.ucb1.comm_cost = 0; // one client, nobody to talk to
  if (auto s = root.find("sweep"))
    read_sweep_section(*s, out);
  return out;
}

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
  if (auto s = root.find("sweep")) { // fed_bandit_sweep's: checked here too, so a typo fails in either program
    bandit_sweep_spec unused;
    read_sweep_section(*s, unused);
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

const std::string& default_sweep_yaml() {
  static const std::string text =
      R"(# The authors' synthetic setting with the theory constants (examples/fed_bandit.yaml).
bandit:
  algorithm: fed2_ucb
  means: [0.70, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.765, 0.77, 0.79]
  sigma: 0.5
  sigma_c: 0.02
  T: 1000000
  C: 1
  kappa: 100
  f: {kind: constant}
  g: {kind: exponential, base: 2}
  c1: 6
  c2: 6
  max_clients: 100000
  seed: 1
sweep:
  seeds: 20
  points: 200
  ucb1: true
  fed1: {clients: 5, kappa: 10, c1: 6, exact: {kind: skewed, low: 0.2}}
)";
  return text;
}

std::vector<sweep_setting> sweep_preset(const std::string& name, std::uint64_t horizon) {
  const std::string label = "--preset " + name;
  auto set = [&](std::vector<std::pair<std::string, std::string>> kvs) {
    std::vector<sweep_setting> out;
    for (auto& [path, value] : kvs)
      out.push_back({{path, value}, label});
    return out;
  };
  if (name == "theory") // the bounds as proved: c1 = c2 = 6 (Fed1-UCB's 6 as well)
    return set({{"bandit.kappa", "100"},
                {"bandit.c1", "6"},
                {"bandit.c2", "6"},
                {"sweep.fed1.clients", "5"},
                {"sweep.fed1.kappa", "10"},
                {"sweep.fed1.c1", "6"}});
  if (name == "paper") { // the constants of the authors' experiments; at T = 10^4 Fed2-UCB used f = 50, c1 = 2
    const bool short_run = horizon == 10000;
    return set({{"bandit.kappa", short_run ? "50" : "100"},
                {"bandit.c1", short_run ? "2" : "1"},
                {"bandit.c2", "1"},
                {"sweep.fed1.clients", "5"},
                {"sweep.fed1.kappa", "10"},
                {"sweep.fed1.c1", "4"},
                {"sweep.fed1.exact", "{kind: skewed, low: 0.2}"}});
  }
  throw error(fmt::format("{}: unknown preset '{}'; expected one of: theory, paper", label, name));
}

bandit_sweep_spec parse_bandit_sweep(const std::string& yaml_text, const std::string& source_name,
                                     const std::vector<sweep_setting>& settings) {
  return read_sweep(parse_yaml(yaml_text, source_name), settings);
}

bandit_sweep_spec load_bandit_sweep(const std::string& path, const std::vector<sweep_setting>& settings) {
  return read_sweep(load_yaml_file(path), settings);
}

} // namespace troupe::config
