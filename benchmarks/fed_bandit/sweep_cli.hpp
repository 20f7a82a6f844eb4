#pragma once
/// fed_bandit_sweep's command line: every sweep parameter as a flag, each turned into the YAML setting it
/// stands for (a flag is a named `--set`), so flags, --set, presets and files share one reader and one
/// set of checks, and an error names the flag as typed ("--sigma -1: bandit.sigma: expected ...").
///
/// Precedence: the file (--config) or the built-in document (default_sweep_yaml), then --preset
/// (only without --config), then the flags, then --set in order.

#include <array>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "config/bandit_spec.hpp"

namespace troupe::bench {

/// What a command line asks for.
struct sweep_command {
  config::bandit_sweep_spec spec;
  std::string preset;             ///< "" without --preset
  std::string svg_path;           ///< the plot of R(t)
  std::string csv_path;           ///< beside the SVG unless given: its path with .csv
  bool log_t = false;             ///< a log time axis instead of the paper's linear one
  std::vector<std::string> notes; ///< things the user should know about the settings (printed first)
};

/// A flag that sets one YAML value.
struct sweep_flag {
  const char* name;       ///< "--sigma"
  const char* path;       ///< "bandit.sigma"
  const char* value_form; ///< how the value is written: "number", "integer", "list", "g", "f", "exact"
  const char* help;
};

/// Every flag that maps to a YAML value, in --help order.
const std::vector<sweep_flag>& sweep_flags();

/// The options of the sweep on a CLI::App; after app.parse(), resolve() reads the settings.
/// Holds the strings CLI11 writes into, so it stays where it was made.
class sweep_cli {
public:
  explicit sweep_cli(CLI::App& app);
  sweep_cli(const sweep_cli&) = delete;
  sweep_cli& operator=(const sweep_cli&) = delete;

  /// The command the parsed flags describe; throws troupe::error naming the flag or file:line:col.
  sweep_command resolve() const;

private:
  static constexpr std::size_t max_flags = 32;
  std::array<std::string, max_flags> values_;
  std::array<CLI::Option*, max_flags> options_{};
  std::vector<std::string> sets_;
  std::string config_, preset_, svg_ = "fed_bandit_regret.svg", csv_;
  bool no_ucb1_ = false, log_t_ = false;
};

/// The YAML value a flag's text stands for: `1e6` → `1000000` for an integer, `0.7,0.8` → `[0.7, 0.8]`
/// for a list, `linear:4` → `{kind: linear, value: 4}` for g, ...; text it cannot read is passed on
/// unchanged for the YAML reader to reject with its message.
std::string flag_value_to_yaml(const std::string& value_form, const std::string& text);

} // namespace troupe::bench
