#include "config/cluster_spec.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "common/error.hpp"
#include "config/yaml_util.hpp"

namespace troupe::config {

namespace {

const std::vector<std::string> cluster_keys = {
    "id",       "nodes",  "connect_timeout_s", "heartbeat_s", "failure_timeout_s", "trainer_gone_after_s", "supervisor",
    "security", "launch", "rendezvous"};
const std::vector<std::string> security_keys = {"curve", "key_dir", "allow_plaintext"};
const std::vector<std::string> supervisor_keys = {"strategy", "max_restarts", "period_s", "backoff_s", "backoff_max_s"};
const std::vector<std::string> node_keys = {"name",    "roles",      "endpoint",  "trainers",
                                            "threads", "public_key", "aggregator"};
constexpr std::string_view z85_alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
const std::vector<std::string> role_names = {"aggregator", "loader", "trainer"};

/// A name that is safe as a path component and in logs: letters, digits, '_', '-', '.', starting with a letter or
/// digit.
std::string read_name(const yaml_cursor& c, const char* what) {
  const auto text = c.as<std::string>();
  bool ok = !text.empty() && std::isalnum(static_cast<unsigned char>(text.front())) != 0;
  for (char ch : text)
    ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '-' || ch == '.');
  if (!ok)
    c.fail(fmt::format("expected a {} of letters, digits, '_', '-' and '.' starting with a letter or digit, got '{}'",
                       what, text));
  return text;
}

role role_from(const std::string& name) {
  return name == "aggregator" ? role::aggregator : name == "loader" ? role::loader : role::trainer;
}

bool runs(const cluster_rules& rules, role r) {
  return std::find(rules.roles.begin(), rules.roles.end(), r) != rules.roles.end();
}

std::string roles_text(const std::vector<role>& roles) {
  std::string out;
  for (role r : roles)
    out += (out.empty() ? "" : ", ") + to_string(r);
  return out;
}

/// The keys a node entry may have under `rules`.
std::vector<std::string> node_keys_of(const cluster_rules& rules) {
  std::vector<std::string> keys = node_keys;
  if (!rules.threads)
    keys.erase(std::find(keys.begin(), keys.end(), "threads"));
  return keys;
}

/// One node entry, checked on its own; `node` keeps the cursor for the cross-node checks.
node_spec read_node(const yaml_cursor& n, const cluster_rules& rules) {
  if (!n.node().IsMap())
    n.fail(fmt::format("expected a node like {{name: ..., roles: [...], endpoint: ...}}, got {}",
                       n.node().IsScalar() ? "'" + n.node().Scalar() + "'" : std::string("a sequence or nothing")));
  n.check_keys(node_keys_of(rules));
  node_spec out;
  out.where = n.where();
  out.name = read_name(n.child("name"), "node name");

  const yaml_cursor roles = n.child("roles");
  if (roles.node().IsScalar())
    roles.fail(
        fmt::format("expected a list of roles like [{}], got '{}'", roles.node().Scalar(), roles.node().Scalar()));
  if (roles.node().IsNull() || (roles.node().IsSequence() && roles.node().size() == 0))
    roles.fail(fmt::format("expected at least one role ({}), got none", roles_text(rules.roles)));
  for (const auto& item : roles.items()) {
    const role r = role_from(item.as_choice(role_names, "role"));
    if (!runs(rules, r))
      item.fail(!rules.other_roles_note.empty() ? rules.other_roles_note
                                                : fmt::format("this workload has no {} role; the roles are {}",
                                                              to_string(r), roles_text(rules.roles)));
    if (has_role(out, r))
      item.fail(fmt::format("role '{}' is listed twice", to_string(r)));
    out.roles.push_back(r);
  }

  const yaml_cursor endpoint = n.child("endpoint");
  out.endpoint = endpoint.as<std::string>();
  out.joins_later = out.endpoint == "later";
  if (out.joins_later && (out.roles.size() != 1 || out.roles.front() != role::trainer))
    endpoint.fail(fmt::format("only a trainer-only node may join later, and node '{}' has the roles {}", out.name,
                              roles_text(out.roles)));
  try {
    out.address = parse_endpoint(out.joins_later ? std::string("tcp://127.0.0.1:0") : out.endpoint);
  } catch (const error& e) {
    endpoint.fail(e.what());
  }

  const bool trains = has_role(out, role::trainer);
  out.trainers = trains ? 1 : 0;
  if (auto t = n.find("trainers")) {
    out.trainers = t->as<std::size_t>(rules.max_trainers == std::numeric_limits<std::size_t>::max()
                                          ? bounds::at_least(0)
                                          : bounds::closed(0, static_cast<double>(rules.max_trainers)));
    if (trains && out.trainers == 0)
      t->fail("a node with the trainer role needs trainers >= 1, got 0");
    if (!trains && out.trainers > 0)
      t->fail(fmt::format("node '{}' has no trainer role (roles: {}), so it cannot run {} trainer{}; remove "
                          "'trainers' or add the trainer role",
                          out.name, roles_text(out.roles), out.trainers, out.trainers == 1 ? "" : "s"));
  }
  out.threads = n.optional<std::size_t>("threads", bounds::positive()).value_or(1);
  out.shards = has_role(out, role::aggregator) ? 1 : 0;
  if (auto a = n.find("aggregator")) {
    if (!has_role(out, role::aggregator))
      a->fail(fmt::format("node '{}' has no aggregator role (roles: {}), so it has no aggregator to shard; remove "
                          "'aggregator' or add the role",
                          out.name, roles_text(out.roles)));
    if (!a->node().IsMap())
      a->fail("expected a map like {shards: 4}");
    a->check_keys({"shards"});
    out.shards = a->child("shards").as<std::size_t>(bounds::closed(1, 64));
  }
  if (auto key = n.find("public_key"))
    out.public_key = read_public_key(*key);
  return out;
}

/// Reads `cluster.security` and resolves `curve: auto`; checks every node has what that needs.
security_spec read_security(const yaml_cursor& c, const yaml_cursor& list, const std::vector<yaml_cursor>& items,
                            const std::vector<node_spec>& nodes, const std::string& base_dir) {
  security_spec out;
  std::string key_dir = "keys";
  if (auto sec = c.find("security")) {
    sec->check_keys(security_keys);
    if (auto curve = sec->find("curve")) {
      // YAML 1.1 reads on/off as booleans; take them as the words they are.
      const std::string text = curve->node().IsScalar() ? curve->node().Scalar() : std::string();
      out.curve_setting = text == "true"    ? "on"
                          : text == "false" ? "off"
                                            : curve->as_choice({"auto", "on", "off"}, "curve setting");
    }
    key_dir = sec->optional<std::string>("key_dir").value_or(key_dir);
    out.allow_plaintext = sec->optional<bool>("allow_plaintext").value_or(false);
  }
  out.key_dir =
      std::filesystem::path(key_dir).is_absolute() ? key_dir : (std::filesystem::path(base_dir) / key_dir).string();

  const node_spec* exposed = nullptr;
  std::size_t exposed_at = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (exposed == nullptr && !is_loopback(nodes[i].address)) {
      exposed = &nodes[i];
      exposed_at = i;
    }
  out.curve = out.curve_setting == "on" || (out.curve_setting == "auto" && exposed != nullptr);
  if (!out.curve) {
    if (exposed != nullptr && !out.allow_plaintext)
      items[exposed_at]
          .child("endpoint")
          .fail(fmt::format(
              "node '{}' would listen on {}, which is not a loopback address, in plaintext{}: anyone who can reach it "
              "could read parameters and push gradients. Give every node a public_key (make one with `troupe-node "
              "keygen "
              "--name NODE`) and set cluster.security.curve: on, or set cluster.security.allow_plaintext: true if this "
              "network is trusted",
              exposed->name, exposed->endpoint, out.curve_setting == "off" ? " (cluster.security.curve: off)" : ""));
    return out;
  }
  std::map<std::string, std::size_t> owners;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const node_spec& node = nodes[i];
    if (node.public_key.empty())
      items[i].fail(fmt::format(
          "node '{}' has no public_key, but CURVE is on ({}); run `troupe-node keygen --name {} --dir {}` and copy "
          "the public key it prints here",
          node.name,
          out.curve_setting == "on" ? "cluster.security.curve: on"
                                    : fmt::format("cluster.security.curve: auto, and node '{}' listens on {}",
                                                  exposed->name, exposed->endpoint),
          node.name, key_dir));
    if (auto [first, fresh] = owners.emplace(node.public_key, i); !fresh)
      items[i]
          .child("public_key")
          .fail(fmt::format("node '{}' has the same public_key as node '{}' ({}[{}]); each "
                            "node needs a key pair of its own",
                            node.name, nodes[first->second].name, list.path(), first->second));
  }
  return out;
}

/// The checks that need all nodes: unique names and endpoints, inproc only alone, the role counts.
void check_nodes(const yaml_cursor& list, const std::vector<yaml_cursor>& items, const std::vector<node_spec>& nodes,
                 const cluster_rules& rules) {
  std::map<std::string, std::size_t> names, endpoints;
  const node_spec* aggregator = nullptr;
  std::size_t aggregator_at = 0;
  bool any_loader = false;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const node_spec& node = nodes[i];
    if (auto [first, fresh] = names.emplace(node.name, i); !fresh)
      items[i].child("name").fail(
          fmt::format("duplicate node name '{}' (also {}[{}])", node.name, list.path(), first->second));
    if (node.address.kind == transport::inproc && nodes.size() > 1)
      items[i]
          .child("endpoint")
          .fail(fmt::format(
              "inproc:// only reaches nodes in the same process, so it needs a single-node cluster, but this "
              "one has {} nodes; use tcp://host:port or ipc://path",
              nodes.size()));
    if (!node.address.ephemeral())
      if (auto [first, fresh] = endpoints.emplace(to_string(node.address), i); !fresh)
        items[i]
            .child("endpoint")
            .fail(fmt::format("endpoint '{}' is already used by node '{}' ({}[{}])", node.endpoint,
                              nodes[first->second].name, list.path(), first->second));
    if (has_role(node, role::aggregator)) {
      if (aggregator != nullptr && !rules.aggregator_shards)
        items[i].child("roles").fail(
            fmt::format("a second aggregator: node '{}' ({}[{}]) already has the aggregator role, and a cluster has "
                        "exactly one",
                        aggregator->name, list.path(), aggregator_at));
      if (aggregator == nullptr) { // the first aggregator node runs shard 0
        aggregator = &node;
        aggregator_at = i;
      }
    }
    any_loader = any_loader || has_role(node, role::loader);
  }
  if (aggregator == nullptr)
    list.fail(rules.aggregator_shards
                  ? "no node has the aggregator role; at least one must (several run aggregator shards)"
                  : "no node has the aggregator role; exactly one must");
  if (!any_loader && runs(rules, role::loader))
    list.fail("no node has the loader role; at least one must");
  std::size_t trainers = 0;
  for (const auto& node : nodes)
    trainers += node.trainers;
  if (trainers == 0)
    list.fail("no node has the trainer role, so nothing would train; give at least one node the trainer role");
}

} // namespace

std::string read_public_key(const yaml_cursor& c) {
  const auto key = c.as<std::string>();
  bool ok = key.size() == 40;
  for (char ch : key)
    ok = ok && z85_alphabet.find(ch) != std::string_view::npos;
  if (!ok)
    c.fail(fmt::format("expected a CURVE public key of 40 Z85 characters as `troupe-node keygen` prints it, got "
                       "'{}' ({} characters)",
                       key, key.size()));
  return key;
}

bool has_role(const node_spec& node, role r) {
  for (role x : node.roles)
    if (x == r)
      return true;
  return false;
}

std::string to_string(role r) {
  switch (r) {
  case role::aggregator:
    return "aggregator";
  case role::loader:
    return "loader";
  case role::trainer:
    break;
  }
  return "trainer";
}

std::size_t total_trainers(const cluster_spec& cluster) {
  std::size_t n = 0;
  for (const auto& node : cluster.nodes)
    n += node.trainers;
  return n;
}

std::size_t total_shards(const cluster_spec& cluster) {
  std::size_t n = 0;
  for (const auto& node : cluster.nodes)
    n += node.shards;
  return n;
}

bool is_loopback(const endpoint_address& e) {
  if (e.kind != transport::tcp)
    return true; // inproc stays in the process; ipc is a local socket file
  return e.host == "localhost" || e.host == "::1" || e.host.rfind("127.", 0) == 0;
}

std::string key_file_of(const cluster_spec& cluster, const std::string& node) {
  return (std::filesystem::path(cluster.security.key_dir) / (node + ".key")).string();
}

cluster_spec read_cluster(const yaml_cursor& c, const std::string& base_dir, const cluster_rules& rules) {
  c.check_keys(cluster_keys);
  cluster_spec out;
  out.id = read_name(c.child("id"), "cluster id");
  out.connect_timeout_s = c.optional<double>("connect_timeout_s", bounds::positive()).value_or(out.connect_timeout_s);
  out.heartbeat_s = c.optional<double>("heartbeat_s", bounds::positive()).value_or(out.heartbeat_s);
  out.failure_timeout_s = 2.5 * out.heartbeat_s;
  if (auto t = c.find("failure_timeout_s")) {
    out.failure_timeout_s = t->as<double>(bounds::positive());
    if (out.failure_timeout_s <= out.heartbeat_s)
      t->fail(fmt::format("failure_timeout_s ({}) must be longer than heartbeat_s ({}), or every node would be "
                          "declared lost between two heartbeats",
                          out.failure_timeout_s, out.heartbeat_s));
  }
  if (auto t = c.find("trainer_gone_after_s")) {
    out.trainer_gone_after_s = t->as<double>(bounds::positive());
    if (out.trainer_gone_after_s <= out.failure_timeout_s)
      t->fail(fmt::format("trainer_gone_after_s ({}) must be longer than failure_timeout_s ({}): a trainer node is "
                          "declared lost after failure_timeout_s and then given this long to come back",
                          out.trainer_gone_after_s, out.failure_timeout_s));
  }
  if (auto sup = c.find("supervisor")) {
    sup->check_keys(supervisor_keys);
    auto& s = out.supervisor;
    if (auto strategy = sup->find("strategy"))
      s.strategy = strategy->as_choice({"one_for_one", "one_for_all", "rest_for_one"}, "supervision strategy");
    s.max_restarts = sup->optional<std::size_t>("max_restarts", bounds::at_least(0)).value_or(s.max_restarts);
    s.period_s = sup->optional<double>("period_s", bounds::positive()).value_or(s.period_s);
    s.backoff_s = sup->optional<double>("backoff_s", bounds::at_least(0)).value_or(s.backoff_s);
    s.backoff_max_s = sup->optional<double>("backoff_max_s", bounds::at_least(0)).value_or(s.backoff_max_s);
  }

  out.launch = read_launch(c);
  if (out.launch.present && !c.has("nodes")) {
    // A launched job: its nodes come from the rendezvous, which checks them again through here.
    if (!runs(rules, role::loader) || rules.roles.size() != 3)
      c.child("launch").fail("only the training workload can be started by a launcher so far");
    out.security = read_security(c, c, {}, {}, base_dir);
    return out;
  }
  const yaml_cursor list = c.child("nodes");
  if (list.node().IsNull() || (list.node().IsSequence() && list.node().size() == 0))
    list.fail("expected at least one node, got none");
  const std::vector<yaml_cursor> items = list.items();
  for (const auto& item : items)
    out.nodes.push_back(read_node(item, rules));
  check_nodes(list, items, out.nodes, rules);
  out.security = read_security(c, list, items, out.nodes, base_dir);
  return out;
}

} // namespace troupe::config
