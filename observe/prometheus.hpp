#pragma once
/// A small Prometheus registry (counters and gauges with labels), its text exposition format
/// (version 0.0.4) and an HTTP exporter serving it at /metrics.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace troupe::observe {

enum class metric_kind { counter, gauge };

/// Label name -> value; ordered, so a label set has one spelling and the output is stable.
using label_set = std::map<std::string, std::string>;

/// Metric families and their samples. Thread-safe: actors update it while the exporter reads it.
class registry {
public:
  /// Declares a family. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; declaring a name again with the
  /// same kind is a no-op, with another kind throws troupe::error.
  void declare(const std::string& name, metric_kind kind, const std::string& help);

  /// Adds delta to a sample (created at 0). Counters only go up: a negative delta on a counter throws.
  void add(const std::string& name, const label_set& labels, double delta = 1);

  /// Sets a sample. On a counter this mirrors a cumulative figure counted elsewhere (e.g. batches
  /// sent); a value below the previous one reads as a counter reset to Prometheus.
  void set(const std::string& name, const label_set& labels, double value);

  /// The sample's value, if it exists.
  std::optional<double> value(const std::string& name, const label_set& labels = {}) const;

  /// The text exposition: per family "# HELP", "# TYPE", then one line per sample, by name.
  std::string exposition() const;

private:
  struct family {
    metric_kind kind;
    std::string help;
    std::map<label_set, double> samples;
  };
  family& family_of(const std::string& name);

  mutable std::mutex mutex_;
  std::map<std::string, family> families_;
};

/// Escapes a HELP text (backslash, newline) or, with in_label, a label value (also the double quote).
std::string escape_exposition(const std::string& text, bool in_label);

/// A sample value as Prometheus reads it: shortest round-trip decimal, NaN, +Inf, -Inf.
std::string format_sample_value(double v);

/// Serves GET /metrics (the registry's exposition) on host:port from a background thread.
class prometheus_exporter {
public:
  /// Binds host:port (0 = an ephemeral port; see port()) and starts serving; throws troupe::error
  /// when the address cannot be bound. The registry must outlive the exporter.
  prometheus_exporter(const registry& reg, const std::string& host = "127.0.0.1", int port = 0);
  ~prometheus_exporter();
  prometheus_exporter(const prometheus_exporter&) = delete;
  prometheus_exporter& operator=(const prometheus_exporter&) = delete;

  /// The port actually bound.
  int port() const { return port_; }

  /// Stops accepting, lets a request in progress finish (a client that sends nothing is dropped
  /// after 2 s) and joins the thread. Idempotent; the destructor calls it.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  int port_ = 0;
};

} // namespace troupe::observe
