#include "config/topology.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "common/error.hpp"
#include "config/closest_match.hpp"
#include "config/yaml_util.hpp"

namespace troupe::config {

namespace {

const std::vector<std::string> top_level_keys = {"cluster", "job", "checkpoint", "metrics"};
const std::vector<std::string> checkpoint_keys = {"dir", "every_steps", "every_seconds", "keep", "on_write_error"};
const std::vector<std::string> metrics_keys = {"dir", "print_freq", "console", "prometheus_port", "prometheus_host"};
constexpr const char* id_placeholder = "<cluster id>";

/// An output directory: a non-empty path, kept as written (relative to the working directory).
std::string read_output_dir(const yaml_cursor& c) {
  auto text = c.as<std::string>();
  if (text.empty())
    c.fail("expected a directory, got an empty string");
  return text;
}

std::string with_id(std::string dir, const std::string& id) {
  if (const auto at = dir.find(id_placeholder); at != std::string::npos)
    dir.replace(at, std::strlen(id_placeholder), id);
  return dir;
}

checkpoint_spec read_checkpoint(const yaml_cursor& root, const std::string& id) {
  checkpoint_spec out;
  out.dir = with_id(out.dir, id);
  if (auto c = root.find("checkpoint")) {
    c->check_keys(checkpoint_keys);
    if (auto dir = c->find("dir"))
      out.dir = read_output_dir(*dir);
    out.every_steps = c->optional<std::size_t>("every_steps", bounds::at_least(0)).value_or(out.every_steps);
    out.every_seconds = c->optional<double>("every_seconds", bounds::at_least(0)).value_or(out.every_seconds);
    out.keep = c->optional<std::size_t>("keep", bounds::positive()).value_or(out.keep);
    if (auto p = c->find("on_write_error"))
      out.on_write_error = p->as_choice({"continue", "stop"}, "write error policy");
  }
  return out;
}

metrics_spec read_metrics(const yaml_cursor& root, const std::string& id) {
  metrics_spec out;
  out.dir = with_id(out.dir, id);
  if (auto m = root.find("metrics")) {
    m->check_keys(metrics_keys);
    if (auto dir = m->find("dir"))
      out.dir = read_output_dir(*dir);
    out.print_freq = m->optional<std::size_t>("print_freq", bounds::at_least(0)).value_or(out.print_freq);
    out.console = m->optional<bool>("console").value_or(out.console);
    if (auto port = m->optional<unsigned>("prometheus_port", bounds::closed(0, 65535)))
      out.prometheus_port = static_cast<int>(*port);
    out.prometheus_host = m->optional<std::string>("prometheus_host").value_or(out.prometheus_host);
  }
  return out;
}

/// What sharded aggregators do not support yet, refused where it is written.
void check_shards(const yaml_cursor& root, const topology& t) {
  const std::size_t shards = total_shards(t.cluster);
  if (shards <= 1)
    return;
  const auto why = [&](const char* what) {
    return fmt::format("{} with {} aggregator shards is not supported yet (docs/sharding.md); {}", what, shards,
                       "use one shard (aggregator: {shards: 1}) or leave this out");
  };
  if (t.job.on_trainer_loss == trainer_loss_policy::shrink)
    root.child("job").child("on_trainer_loss").fail(why("on_trainer_loss: shrink"));
  // Each shard would close its rounds with whichever gradients reached it first: the shards'
  // rounds could average different trainers' gradients.
  if (t.job.backup_trainers > 0)
    root.child("job").child("backup_trainers").fail(why("backup_trainers"));
  if (t.checkpoint.every_seconds > 0) // shards checkpoint at the same version: by steps only
    root.child("checkpoint")
        .child("every_seconds")
        .fail(fmt::format("checkpoints by time with {} aggregator shards: each shard would write its part at another "
                          "version; use checkpoint.every_steps (all shards write their parts at the same version)",
                          shards));
}

/// Free places (`endpoint: later`) exist only in an elastic launched job, which needs
/// on_trainer_loss: shrink: a place nobody has taken yet is a trainer out of the job.
void check_elastic(const yaml_cursor& root, const topology& t) {
  const auto& launch = t.cluster.launch;
  const bool later =
      std::any_of(t.cluster.nodes.begin(), t.cluster.nodes.end(), [](const node_spec& n) { return n.joins_later; });
  if (later && !launch.present)
    root.child("cluster").child("nodes").fail(
        "a node with endpoint: later joins through a launched job's rendezvous; add a cluster.launch section "
        "(docs/deploy.md) or give the node its endpoint");
  if ((later || launch.max_trainers > 0) && t.job.on_trainer_loss != trainer_loss_policy::shrink)
    (launch.max_trainers > 0 ? root.child("cluster").child("launch").child("max_trainers")
                             : root.child("cluster").child("nodes"))
        .fail("an elastic job needs job.on_trainer_loss: shrink: a trainer that has not joined yet, or has left, is "
              "out of the job until it (re)joins");
}

/// job.backup_trainers against the cluster: a round needs at least one gradient.
void check_backup_trainers(const yaml_cursor& root, const topology& t) {
  const std::size_t trainers = total_trainers(t.cluster);
  // A launched topology has no nodes until its rendezvous: checked again once it has them.
  if (t.job.backup_trainers > 0 && !t.cluster.nodes.empty() && t.job.backup_trainers >= trainers)
    root.child("job")
        .child("backup_trainers")
        .fail(fmt::format("backup_trainers: {} with {} trainer(s): a round closes with the first N - b gradients, so b "
                          "must be less than N = {}",
                          t.job.backup_trainers, trainers, trainers));
}

/// The topology in `parsed` (a whole document), after applying `overrides` to its tree.
topology read_topology(const yaml_cursor& parsed, const std::vector<override_kv>& overrides,
                       const std::string& base_dir) {
  YAML::Node tree = parsed.node();
  std::vector<value_origin> origins = apply_overrides(tree, overrides, parsed.source());
  const yaml_cursor root = yaml_cursor(tree, parsed.source()).with_origins(std::move(origins));
  root.check_keys(top_level_keys);

  topology out;
  out.source = parsed.source();
  out.cluster = read_cluster(root.child("cluster"), base_dir);
  out.job = read_job(root.child("job"), base_dir);
  out.checkpoint = read_checkpoint(root, out.cluster.id);
  out.metrics = read_metrics(root, out.cluster.id);
  check_shards(root, out);
  check_elastic(root, out);
  check_backup_trainers(root, out);
  return out;
}

} // namespace

topology parse_topology(const std::string& yaml_text, const std::string& source_name,
                        const std::vector<override_kv>& overrides, const std::string& base_dir) {
  return read_topology(parse_yaml(yaml_text, source_name), overrides, base_dir);
}

topology load_topology(const std::string& path, const std::vector<override_kv>& overrides) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return read_topology(load_yaml_file(path), overrides, dir.empty() ? "." : dir);
}

const node_spec& find_node(const topology& t, const std::string& name) {
  return find_node(t.cluster, name, t.source);
}

const node_spec& find_node(const cluster_spec& c, const std::string& name, const std::string& source) {
  std::vector<std::string> names;
  for (const auto& node : c.nodes) {
    if (node.name == name)
      return node;
    names.push_back(node.name);
  }
  const auto best = closest_match(name, names);
  throw error(fmt::format("{}: no node named '{}'{}; the nodes are: {}", source, name,
                          best ? fmt::format(" (did you mean '{}'?)", *best) : std::string(), fmt::join(names, ", ")));
}

model_spec load_job_model(const topology& t) {
  try {
    return load_model_spec(t.job.model);
  } catch (const error& e) {
    throw error(fmt::format("{}: job.model: {}", t.job.model_where, e.what()));
  }
}

void check_data_dir(const topology& t) {
  std::error_code ec;
  const auto status = std::filesystem::status(t.job.data.dir, ec);
  if (std::filesystem::is_directory(status))
    return;
  const bool given = !t.job.data.dir_where.empty();
  const std::string problem =
      std::filesystem::exists(status)
          ? fmt::format("'{}' is not a directory; job.data.dir names the directory that holds the IDX files",
                        t.job.data.dir)
          : fmt::format("directory '{}' does not exist{}", t.job.data.dir,
                        given ? std::string()
                              : " (the default; set job.data.dir, or install the data set with `apt-get install "
                                "dataset-fashion-mnist`)");
  throw error(fmt::format("{}: job.data.dir: {}", given ? t.job.data.dir_where : t.source, problem));
}

} // namespace troupe::config
