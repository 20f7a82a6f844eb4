#pragma once
/// The federated-bandit workload file (examples/fed_bandit.yaml) as typed, validated structs.
///
/// A bandit file has the sections `cluster` (required; read by read_cluster under
/// bandit_cluster_rules(), so timing, supervisor and security are those of a topology file; roles
/// aggregator = the server and trainer = hosts of the clients, no loader), `bandit` (required),
/// `metrics` (optional, as in a topology file) and `sweep` (optional: fed_bandit_sweep's settings,
/// checked here too).
/// Every error is a troupe::error starting "file:line:col: key.path: " (or the
/// `--set` that supplied the value). The model and the algorithms are in docs/fed_bandit.md.

#include <cstdint>
#include <string>
#include <vector>

#include "config/cluster_spec.hpp"
#include "config/yaml_override.hpp"

namespace troupe::config {

/// fed2_ucb: approximate model, growing client pool; fed1_ucb: exact model, M fixed clients;
/// ucb1: one client playing the global bandit alone (baseline, no communication).
enum class bandit_algorithm { fed2_ucb, fed1_ucb, ucb1 };

/// g(p), the clients admitted in phase p: base^p, value, or value·p.
enum class admission_kind { exponential, constant, linear };

/// f(p), the pulls per active arm per client in phase p: ⌈κ⌉ or ⌈κ·ln T⌉.
enum class pulls_kind { constant, log };

/// How the M clients of the exact model split the global means (each column averages to μ_k):
/// skewed: μ_{k,m} = μ_k·A[m,k], A = `high` for the client owning arm k, `low` otherwise (the authors' A);
/// centered: μ_{k,m} ~ N(μ_k, σ_c²), then shifted so that the M values average to μ_k.
enum class exact_kind { skewed, centered };

/// Everything the algorithms need; plain values, no YAML.
struct bandit_params {
  bandit_algorithm algorithm = bandit_algorithm::fed2_ucb;
  std::vector<double> means;     ///< global arm means μ_k (K = size, >= 2, unique best)
  double sigma = 0.5;            ///< observation noise σ (Gaussian)
  double sigma_c = 0.02;         ///< spread σ_c of client local means around μ_k (Gaussian)
  std::uint64_t horizon = 10000; ///< T, in time steps (all participating clients pull once per step)
  double comm_cost = 1;          ///< C, charged per client per communication round
  double kappa = 100;            ///< κ of f(p)
  pulls_kind f = pulls_kind::constant;
  admission_kind g = admission_kind::exponential;
  std::uint64_t g_value = 2; ///< exponential: base; constant/linear: clients per phase (per phase index)
  std::uint64_t max_clients =
      100000;                ///< fed2: admissions stop once M(p) reaches this (the pool is unbounded in theory)
  double c1 = 6;             ///< arm-sampling constant of the bound (theory: 6)
  double c2 = 6;             ///< client-sampling constant of B_{p,2} (theory: 6)
  std::uint64_t clients = 0; ///< fed1: M, the fixed clients
  exact_kind exact = exact_kind::skewed;
  double exact_low = 0.2; ///< skewed: A entry of the clients not owning an arm; high = M − (M−1)·low
  std::uint64_t seed = 1;
};

struct bandit_spec {
  cluster_spec cluster; ///< one aggregator (server), >= 1 trainer node; `trainers` = client-host actors on it
  bandit_params bandit;
  std::string metrics_dir = "runs/<cluster id>/metrics"; ///< default gets the cluster id substituted
  bool console = true;                                   ///< the server prints progress lines
  std::string source;                                    ///< the file (or name) the spec came from
};

/// "fed2_ucb", "fed1_ucb", "ucb1".
std::string to_string(bandit_algorithm a);

/// Index of the best global arm (the means are validated to have a unique maximum).
std::size_t best_arm(const bandit_params& p);

/// Reads and validates the `bandit` section at `c`.
bandit_params read_bandit(const yaml_cursor& c);

/// The bandit workload's roles for read_cluster: one aggregator (the server) and trainer nodes
/// hosting 1..1024 client-host actors each; no loader, no `threads`.
cluster_rules bandit_cluster_rules();

/// Reads and validates the bandit file at `path`, after applying `overrides` in order.
bandit_spec load_bandit_spec(const std::string& path, const std::vector<override_kv>& overrides = {});

/// Parses and validates bandit YAML cited as `source_name`; a relative security.key_dir is resolved
/// against `base_dir` (load_bandit_spec passes the file's directory).
bandit_spec parse_bandit_spec(const std::string& yaml_text, const std::string& source_name,
                              const std::vector<override_kv>& overrides = {}, const std::string& base_dir = ".");

/// fed_bandit_sweep's settings, read from a bandit file: `bandit` (algorithm fed2_ucb) gives the
/// environment (arms, σ, σ_c, T, C, first seed) and Fed2-UCB's constants; the optional `sweep` section
/// gives the runs per curve, the samples per curve, Fed1-UCB's constants and whether UCB1 runs.
/// `cluster` and `metrics` are allowed and not read (the sweep runs in memory).
struct bandit_sweep_spec {
  bandit_params fed2;   ///< the `bandit` section
  bandit_params fed1;   ///< fed2's environment; sweep.fed1: clients (5), kappa (10, f = ⌈κ ln T⌉), c1 (6), exact
  bandit_params ucb1;   ///< fed2's arms, σ, T and seed
  bool run_ucb1 = true; ///< sweep.ucb1
  std::uint64_t seeds = 20;   ///< sweep.seeds: runs per curve, seeds bandit.seed, bandit.seed + 1, …
  std::uint64_t points = 200; ///< sweep.points: at most this many R(t) samples per curve
  std::string source;         ///< the file (or name) the settings came from
};

/// One sweep setting from the command line: the YAML value it sets and how errors cite it ("--sigma -1").
struct sweep_setting {
  override_kv kv;
  std::string label;
};

/// The sweep's document when no file is given: the authors' setting (K = 10, Δ_min = 0.02, σ = 0.5,
/// σ_c = 0.02, C = 1, T = 10^6) with the theory constants, as in examples/fed_bandit.yaml.
const std::string& default_sweep_yaml();

/// The settings of `--preset name`: "theory" (c1 = c2 = 6, Fed1-UCB c1 = 6) or "paper", the constants of
/// the authors' experiments (Fed2-UCB κ = 100, c1 = c2 = 1; at `horizon` = 10^4 κ = 50, c1 = 2, c2 = 1;
/// Fed1-UCB M = 5, κ = 10, c1 = 4 on the skewed exact model). Throws troupe::error for another name.
std::vector<sweep_setting> sweep_preset(const std::string& name, std::uint64_t horizon);

/// Reads the sweep settings from bandit YAML cited as `source_name`, after applying `settings` in order;
/// errors start "file:line:col: key.path: " or the label of the setting that supplied the value.
bandit_sweep_spec parse_bandit_sweep(const std::string& yaml_text, const std::string& source_name,
                                     const std::vector<sweep_setting>& settings = {});

/// parse_bandit_sweep of the file at `path`.
bandit_sweep_spec load_bandit_sweep(const std::string& path, const std::vector<sweep_setting>& settings = {});

} // namespace troupe::config
