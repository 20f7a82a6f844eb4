#pragma once
/// The cluster + job description (topology YAML) as typed, validated structs, with `--set` overrides.
///
/// A topology file has exactly the sections `cluster` and `job` (required), `checkpoint` and
/// `metrics` (optional); see examples/fmnist-*.yaml. Every error is a troupe::error starting
/// "file:line:col: key.path: " (or "--set key.path=value: key.path: " for an overridden value).
/// Paths: inputs (job.model, job.data.dir) written in the file are resolved against the file's
/// directory; outputs (checkpoint.dir, metrics.dir) stay relative to the working directory.

#include <cstddef>
#include <string>
#include <vector>

#include "config/cluster_spec.hpp"
#include "config/job_spec.hpp"
#include "config/model_spec.hpp"
#include "config/yaml_override.hpp"

namespace troupe::config {

/// When to save a checkpoint and how many to keep; 0 turns a trigger off.
struct checkpoint_spec {
  std::string dir =
      "runs/<cluster id>/checkpoints"; ///< default gets the cluster id substituted; relative to the working directory
  std::size_t every_steps = 0;
  double every_seconds = 0;
  std::size_t keep = 3; ///< newest checkpoints kept on disk (>= 1)
  /// A checkpoint or model file that cannot be written (disk full, read-only, ...): "continue"
  /// reports it and trains on (the last good files stay; the job exits 0 with the failures
  /// reported), "stop" ends the job cleanly with exit 1 naming the path and the error.
  std::string on_write_error = "continue";
};

/// Where metrics go and how often progress is printed.
struct metrics_spec {
  std::string dir =
      "runs/<cluster id>/metrics"; ///< default gets the cluster id substituted; relative to the working directory
  std::size_t print_freq = 100;    ///< progress line every this many steps (0 = never)
  bool console = true;             ///< also print progress to the console
  int prometheus_port = -1;        ///< /metrics on this port; -1 = off (default), 0 = ephemeral
  std::string prometheus_host = "127.0.0.1"; ///< address the exporter binds
};

struct topology {
  cluster_spec cluster;
  job_spec job;
  checkpoint_spec checkpoint;
  metrics_spec metrics;
  std::string source; ///< the file (or name) the topology came from
};

/// Reads and validates the topology file at `path`, after applying `overrides` in order to its YAML tree.
topology load_topology(const std::string& path, const std::vector<override_kv>& overrides = {});

/// Parses and validates topology YAML cited as `source_name`; relative input paths are resolved against `base_dir`.
topology parse_topology(const std::string& yaml_text, const std::string& source_name,
                        const std::vector<override_kv>& overrides = {}, const std::string& base_dir = ".");

/// The node called `name`; throws troupe::error listing the node names (and the closest one) otherwise.
const node_spec& find_node(const topology& t, const std::string& name);
/// The same for any cluster section; `source` (the file) starts the error message.
const node_spec& find_node(const cluster_spec& c, const std::string& name, const std::string& source);

/// Loads and validates the model file job.model names; errors are prefixed with where job.model was given.
model_spec load_job_model(const topology& t);

/// Throws unless job.data.dir is an existing directory; the error cites where job.data.dir was given (the file, for the
/// default).
void check_data_dir(const topology& t);

} // namespace troupe::config
