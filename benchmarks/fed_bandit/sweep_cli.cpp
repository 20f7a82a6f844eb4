#include "benchmarks/fed_bandit/sweep_cli.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::bench {

namespace {

/// `text` as a whole number when it is one written as a double ("1e6", "100.0"), else nothing.
std::optional<std::uint64_t> whole_number(const std::string& text) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::general);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(v >= 0) || v > 9e15 ||
      v != std::floor(v))
    return std::nullopt;
  return static_cast<std::uint64_t>(v);
}

/// "kind" and the text after the first ':' ("" without one).
std::pair<std::string, std::string> split_kind(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos)
    return {text, ""};
  return {text.substr(0, colon), text.substr(colon + 1)};
}

} // namespace

const std::vector<sweep_flag>& sweep_flags() {
  static const std::vector<sweep_flag> flags = {
      {"--means", "bandit.means", "list", "Arm means mu_k, comma-separated (K = their count; one best arm)"},
      {"--sigma", "bandit.sigma", "number", "Observation noise sigma"},
      {"--sigma-c", "bandit.sigma_c", "number", "Spread sigma_c of the clients' local means (approximate model)"},
      {"--C", "bandit.C", "number", "Communication cost per client per exchange"},
      {"--T", "bandit.T", "integer", "Horizon T in time steps (1e6 is accepted)"},
      {"--seed", "bandit.seed", "integer", "First seed; run i uses seed + i"},
      {"--kappa", "bandit.kappa", "number", "Fed2-UCB: f(p) = kappa pulls per active arm per phase"},
      {"--f", "bandit.f", "f", "Fed2-UCB f(p): constant (kappa) or log (ceil(kappa ln T))"},
      {"--g", "bandit.g", "g", "Fed2-UCB g(p): exponential[:base] (base^p), constant:n, or linear:n (n*p)"},
      {"--c1", "bandit.c1", "number", "Fed2-UCB arm-sampling constant (theory 6; the authors 1, 2 at T = 1e4)"},
      {"--c2", "bandit.c2", "number", "Fed2-UCB client-sampling constant (theory 6; the authors 1)"},
      {"--max-clients", "bandit.max_clients", "integer", "Fed2-UCB: admissions stop at this many clients"},
      {"--fed1-clients", "sweep.fed1.clients", "integer", "Fed1-UCB: the M fixed clients"},
      {"--fed1-kappa", "sweep.fed1.kappa", "number", "Fed1-UCB: f(p) = ceil(kappa ln T)"},
      {"--fed1-c1", "sweep.fed1.c1", "number", "Fed1-UCB bound constant (theory 6; the authors 4)"},
      {"--fed1-exact", "sweep.fed1.exact", "exact", "Fed1-UCB exact model: skewed[:low] or centered"},
      {"--seeds", "sweep.seeds", "integer", "Runs per curve"},
      {"--points", "sweep.points", "integer", "At most this many R(t) samples per curve"},
  };
  return flags;
}

std::string flag_value_to_yaml(const std::string& value_form, const std::string& text) {
  const std::string form = value_form;
  if (form == "integer") {
    const auto n = whole_number(text);
    return n ? std::to_string(*n) : text;
  }
  if (form == "list")
    return !text.empty() && text.front() == '[' ? text : "[" + text + "]";
  if (form == "f")
    return fmt::format("{{kind: {}}}", text);
  if (form == "g") {
    const auto [kind, n] = split_kind(text);
    if (n.empty())
      return fmt::format("{{kind: {}}}", kind);
    return fmt::format("{{kind: {}, {}: {}}}", kind, kind == "exponential" ? "base" : "value", n);
  }
  if (form == "exact") {
    const auto [kind, low] = split_kind(text);
    return low.empty() ? fmt::format("{{kind: {}}}", kind) : fmt::format("{{kind: {}, low: {}}}", kind, low);
  }
  return text;
}

sweep_cli::sweep_cli(CLI::App& app) {
  const auto& flags = sweep_flags();
  TROUPE_ENFORCE(flags.size() <= max_flags, "{} sweep flags, room for {}", flags.size(), max_flags);
  app.add_option("--config", config_,
                 "A bandit file (e.g. examples/fed_bandit.yaml): arms, sigma, T, C and Fed2-UCB from its `bandit` "
                 "section, the rest from its optional `sweep` section; default: the authors' setting");
  app.add_option("--preset", preset_,
                 "theory (c1 = c2 = 6) or paper (the authors' experimental constants; Fed2 f = 50, c1 = 2 when "
                 "--T 1e4); on the built-in setting, so not with --config")
      ->excludes("--config");
  for (std::size_t i = 0; i < flags.size(); ++i)
    options_[i] = app.add_option(flags[i].name, values_[i], fmt::format("{} [{}]", flags[i].help, flags[i].path));
  app.add_flag("--no-ucb1", no_ucb1_, "Skip the UCB1 baseline (most of the run time) [sweep.ucb1: false]");
  app.add_option("--set", sets_, "Any YAML value, key.path=value (e.g. --set sweep.fed1.exact.low=0.1)");
  app.add_option("--svg", svg_, "Where to write the plot of R(t)")->capture_default_str();
  app.add_option("--csv", csv_, "Where to write R(t) as CSV (default: beside the SVG, .csv)");
  app.add_flag("--log-t", log_t_, "Plot t on a log axis (default: linear, as in the paper)");
}

sweep_command sweep_cli::resolve() const {
  sweep_command out;
  out.preset = preset_;
  out.svg_path = svg_;
  out.csv_path = csv_.empty() ? std::filesystem::path(svg_).replace_extension(".csv").string() : csv_;
  out.log_t = log_t_;
  const auto& flags = sweep_flags();

  std::vector<config::sweep_setting> settings;
  if (!preset_.empty()) {
    // The authors' constants depend on the horizon (f = 50, c1 = 2 at T = 10^4): read it from --T.
    std::uint64_t T = 1000000;
    for (std::size_t i = 0; i < flags.size(); ++i)
      if (options_[i]->count() > 0 && std::string(flags[i].name) == "--T")
        T = whole_number(values_[i]).value_or(T);
    settings = config::sweep_preset(preset_, T);
    if (preset_ == "paper" && T != 10000 && T != 1000000)
      out.notes.push_back(fmt::format("--preset paper: the authors published constants for T = 10^4 and 10^6 only; "
                                      "T = {} uses those of 10^6",
                                      T));
  }
  for (std::size_t i = 0; i < flags.size(); ++i)
    if (options_[i]->count() > 0)
      settings.push_back({{flags[i].path, flag_value_to_yaml(flags[i].value_form, values_[i])},
                          fmt::format("{} {}", flags[i].name, values_[i])});
  if (no_ucb1_)
    settings.push_back({{"sweep.ucb1", "false"}, "--no-ucb1"});
  for (const auto& s : sets_) {
    const config::override_kv kv = config::parse_override(s);
    settings.push_back({kv, config::override_label(kv)});
  }
  out.spec = config_.empty()
                 ? config::parse_bandit_sweep(config::default_sweep_yaml(), "fed_bandit_sweep defaults", settings)
                 : config::load_bandit_sweep(config_, settings);
  return out;
}

} // namespace troupe::bench
