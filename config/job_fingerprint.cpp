#include "config/job_fingerprint.hpp"

#include <map>
#include <set>
#include <type_traits>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/fnv1a.hpp"

namespace troupe::config {

namespace {

constexpr std::string_view wire_header = "troupe-job-fingerprint 1";
constexpr std::string_view hash_key = "hash";

/// Appends entries under a key prefix; numbers are formatted one way everywhere (fmt's shortest
/// round-trip form for floats), so equal settings always give equal text.
class entry_writer {
public:
  explicit entry_writer(std::vector<std::pair<std::string, std::string>>& out) : out_(out) {}

  void add(const std::string& key, std::string value) { out_.emplace_back(key, std::move(value)); }
  void add(const std::string& key, const char* value) { add(key, std::string(value)); }
  void add(const std::string& key, bool value) { add(key, std::string(value ? "true" : "false")); }
  void add(const std::string& key, float value) { add(key, fmt::format("{}", value)); }
  void add(const std::string& key, double value) { add(key, fmt::format("{}", value)); }
  template <typename Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  void add(const std::string& key, Int value) {
    add(key, fmt::format("{}", value));
  }

private:
  std::vector<std::pair<std::string, std::string>>& out_;
};

void add_model(entry_writer& w, const model_spec& m) {
  const std::string p = "job.model.";
  w.add(p + "name", m.name);
  w.add(p + "input", fmt::format("[{}]", fmt::join(m.input_shape, ",")));
  w.add(p + "loss", m.loss);
  if (m.label_smoothing > 0) // only when on: other models keep the fingerprint they always had
    w.add(p + "label_smoothing", m.label_smoothing);
  w.add(p + "layers.count", m.layers.size());
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const layer_spec& l = m.layers[i];
    const std::string lp = fmt::format("{}layers[{}].", p, i);
    w.add(lp + "type", l.type); // relu / sigmoid / tanh: the activation is the layer's type.
    if (l.type == "conv2d") {
      w.add(lp + "out_channels", l.out_channels);
      w.add(lp + "kernel", l.kernel);
      w.add(lp + "stride", l.stride);
      w.add(lp + "padding", l.padding);
    } else if (l.type == "maxpool2d" || l.type == "avgpool2d") {
      w.add(lp + "kernel", l.kernel);
      w.add(lp + "stride", l.stride);
    } else if (l.type == "dense") {
      w.add(lp + "units", l.units);
    } else if (l.type == "dropout") {
      w.add(lp + "p", l.p);
    } else if (l.type == "batchnorm2d" || l.type == "batchnorm1d") {
      w.add(lp + "momentum", l.momentum);
      w.add(lp + "eps", l.eps);
      // The running statistics travel with the parameters and the aggregator owns them (the
      // flat layout's buffers): a node built before that sends vectors of another size, so it is
      // refused at its hello, naming this key, rather than at its first parameters.
      w.add(lp + "running_stats", "aggregated");
    } else if (l.type == "leaky_relu") {
      w.add(lp + "negative_slope", l.negative_slope);
    }
    if (l.type == "conv2d" || l.type == "dense") {
      w.add(lp + "init", l.init.empty() ? std::string("default") : l.init);
      w.add(lp + "bias", l.bias);
    }
    // The wiring of a graph (absent from a plain list, whose entries stay as they were).
    if (!l.name.empty())
      w.add(lp + "name", l.name);
    if (!l.inputs.empty())
      w.add(lp + "inputs", fmt::format("[{}]", fmt::join(l.inputs, ",")));
  }
}

void add_job(entry_writer& w, const job_spec& j) {
  w.add("job.data.max_train", j.data.max_train);
  w.add("job.data.max_test", j.data.max_test);
  w.add("job.data.normalize", j.data.normalize);
  w.add("job.batch_size", j.batch_size);
  w.add("job.epochs", j.epochs);
  w.add("job.seed", j.seed);

  const optimizer_spec& o = j.optimizer;
  w.add("job.optimizer.kind", o.kind);
  w.add("job.optimizer.lr", o.lr);
  if (o.kind == "sgd") {
    w.add("job.optimizer.momentum", o.momentum);
    w.add("job.optimizer.dampening", o.dampening);
    w.add("job.optimizer.nesterov", o.nesterov);
  } else { // adam, adamw
    w.add("job.optimizer.beta1", o.beta1);
    w.add("job.optimizer.beta2", o.beta2);
    w.add("job.optimizer.eps", o.eps);
  }
  w.add("job.optimizer.weight_decay", o.weight_decay);

  const schedule_spec& s = j.schedule;
  w.add("job.schedule.kind", s.kind);
  if (s.kind == "step") {
    w.add("job.schedule.step_epochs", s.step_epochs);
    w.add("job.schedule.gamma", s.gamma);
  } else if (s.kind == "cosine") {
    w.add("job.schedule.min_lr", s.min_lr);
  }
  w.add("job.schedule.warmup_steps", s.warmup_steps);
  if (s.warmup_steps > 0)
    w.add("job.schedule.warmup_start_factor", s.warmup_start_factor);

  w.add("job.consistency.mode", to_string(j.consistency.mode));
  if (j.consistency.mode == consistency::ssp)
    w.add("job.consistency.staleness", j.consistency.staleness);
  w.add("job.evaluation.every_epochs", j.evaluation.every_epochs);
  w.add("job.evaluation.every_steps", j.evaluation.every_steps);
  w.add("job.on_nonfinite_gradient", to_string(j.on_nonfinite_gradient));
  if (j.on_nonfinite_gradient == nonfinite_policy::refuse)
    w.add("job.max_refused_in_a_row", j.max_refused_in_a_row);
  w.add("job.on_trainer_loss", to_string(j.on_trainer_loss));
  if (j.balance.speed) { // only when on: an unbalanced job keeps the fingerprint it always had
    w.add("job.balance.mode", "speed");
    w.add("job.balance.every_clocks", j.balance.every_clocks);
    w.add("job.balance.floor", j.balance.floor);
  }
  // Only when on, like balance: a bsp job without backup trainers keeps the fingerprint it always had.
  if (j.backup_trainers > 0)
    w.add("job.backup_trainers", j.backup_trainers);
  // Only when on, like balance: a job without compression keeps the fingerprint it always had. A
  // node with another encoding could not even read the other side's tensors.
  if (j.compression.mode != compression::none) {
    w.add("job.compression.mode", to_string(j.compression.mode));
    if (j.compression.mode == compression::topk)
      w.add("job.compression.ratio", j.compression.ratio);
  }
  // Only when on, like balance: an un-augmented job keeps the fingerprint it always had. A loader
  // that augments otherwise would feed the trainers other images.
  if (j.augment.enabled()) {
    if (j.augment.crop_padding > 0)
      w.add("job.augment.random_crop.padding", j.augment.crop_padding);
    w.add("job.augment.horizontal_flip", j.augment.horizontal_flip);
  }
}

/// Actor placement: which node runs what, hence the ranks and the number of trainers.
void add_cluster(entry_writer& w, const cluster_spec& c) {
  w.add("cluster.id", c.id);
  w.add("cluster.nodes.count", c.nodes.size());
  for (std::size_t i = 0; i < c.nodes.size(); ++i) {
    const node_spec& n = c.nodes[i];
    const std::string np = fmt::format("cluster.nodes[{}].", i);
    w.add(np + "name", n.name);
    std::string roles;
    for (const role r : n.roles)
      roles += (roles.empty() ? "" : ",") + to_string(r);
    w.add(np + "roles", roles);
    w.add(np + "trainers", n.trainers);
    if (n.shards > 1) // only when sharded: every node must cut the parameters the same way
      w.add(np + "aggregator.shards", n.shards);
  }
}

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '[' || c == ']';
}

std::string escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\')
      out += "\\\\";
    else if (c < 0x20 || c > 0x7e)
      out += fmt::format("\\x{:02x}", c);
    else
      out += ch;
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1; // Upper case is not canonical: refused, so one value has one wire form.
}

/// The canonical text of the entries: the entry lines of the wire form.
std::string canonical_text(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string text;
  for (const auto& [key, value] : entries) {
    text += key;
    text += '=';
    text += escape(value);
    text += '\n';
  }
  return text;
}

[[noreturn]] void malformed(std::size_t line, const std::string& problem) {
  throw error(fmt::format("job fingerprint: line {}: {}", line, problem));
}

/// The value of an entry line, unescaped; `line` is for errors.
std::string unescape(std::string_view v, std::size_t line) {
  std::string out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c > 0x7e)
      malformed(line, fmt::format("byte 0x{:02x} in a value; such bytes are written \\xHH", c));
    if (c != '\\') {
      out += v[i];
      continue;
    }
    if (i + 1 < v.size() && v[i + 1] == '\\') {
      out += '\\';
      ++i;
      continue;
    }
    if (i + 3 < v.size() && v[i + 1] == 'x') {
      const int hi = hex_digit(v[i + 2]), lo = hex_digit(v[i + 3]);
      const int byte = hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
      if (byte >= 0 && (byte < 0x20 || byte > 0x7e)) {
        out += static_cast<char>(byte);
        i += 3;
        continue;
      }
    }
    malformed(line, "a bad escape in a value: expected \\\\ or \\xHH (lower-case hex) for a byte outside 0x20..0x7e");
  }
  return out;
}

} // namespace

job_fingerprint fingerprint_of(const topology& t, const model_spec& model) {
  std::vector<std::pair<std::string, std::string>> entries;
  entry_writer w(entries);
  add_model(w, model);
  add_job(w, t.job);
  add_cluster(w, t.cluster);
  return job_fingerprint::from_entries(std::move(entries));
}

job_fingerprint job_fingerprint::from_entries(std::vector<std::pair<std::string, std::string>> entries) {
  job_fingerprint fp;
  fp.entries = std::move(entries);
  fp.hash = fnv1a(canonical_text(fp.entries));
  return fp;
}

std::string job_fingerprint::to_wire() const {
  std::string wire = fmt::format("{}\n{}{}={:016x}\n", wire_header, canonical_text(entries), hash_key, hash);
  // A peer would refuse it: say so here, where the cause (a huge model or cluster) is known.
  for (const auto& [key, value] : entries)
    if (value.size() > max_value_bytes)
      throw error(fmt::format("job fingerprint: the value of {} is longer than {} bytes", key, max_value_bytes));
  if (wire.size() > max_wire_bytes || entries.size() > max_entries)
    throw error(fmt::format("job fingerprint: {} entries, {} bytes on the wire, more than the limits of {} and {}",
                            entries.size(), wire.size(), max_entries, max_wire_bytes));
  return wire;
}

job_fingerprint job_fingerprint::from_wire(std::string_view wire) {
  if (wire.size() > max_wire_bytes)
    throw error(fmt::format("job fingerprint: {} bytes, more than the limit of {}", wire.size(), max_wire_bytes));
  if (wire.empty() || wire.back() != '\n')
    throw error("job fingerprint: truncated (it does not end with a newline)");

  job_fingerprint fp;
  std::set<std::string_view> keys;
  std::optional<std::uint64_t> claimed_hash;
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos < wire.size();) {
    const std::size_t end = wire.find('\n', pos); // Found: the text ends with '\n'.
    const std::string_view line = wire.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no == 1) {
      if (line != wire_header)
        malformed(line_no, fmt::format("expected the header '{}', got '{}'", wire_header, escape(line.substr(0, 64))));
      continue;
    }
    if (claimed_hash)
      malformed(line_no, "text after the hash line, which must be last");
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      malformed(line_no, "expected 'key=value'");
    const std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key.empty() || key.size() > max_key_bytes)
      malformed(line_no, fmt::format("a key of {} bytes; expected 1 to {}", key.size(), max_key_bytes));
    for (const char c : key)
      if (!is_key_char(c))
        malformed(line_no, fmt::format("a key with the character '{}'; keys are letters, digits, '_', '.', '[', ']'",
                                       escape(std::string_view(&c, 1))));
    if (key == hash_key) {
      std::uint64_t h = 0;
      bool ok = value.size() == 16;
      for (const char c : value) {
        const int d = hex_digit(c);
        ok = ok && d >= 0;
        h = (h << 4) | static_cast<std::uint64_t>(d < 0 ? 0 : d);
      }
      if (!ok)
        malformed(line_no, "expected 'hash=' and 16 lower-case hex digits");
      claimed_hash = h;
      continue;
    }
    if (value.size() > 4 * max_value_bytes) // Escaped: up to 4 bytes per byte; the exact limit follows.
      malformed(line_no, fmt::format("the value of {} is longer than {} bytes", key, max_value_bytes));
    std::string v = unescape(value, line_no);
    if (v.size() > max_value_bytes)
      malformed(line_no, fmt::format("the value of {} is longer than {} bytes", key, max_value_bytes));
    if (fp.entries.size() == max_entries)
      malformed(line_no, fmt::format("more than {} entries", max_entries));
    if (!keys.insert(key).second)
      malformed(line_no, fmt::format("the key {} appears twice", key));
    fp.entries.emplace_back(std::string(key), std::move(v));
  }
  if (!claimed_hash)
    throw error("job fingerprint: no hash line; it must end with 'hash=<16 hex digits>'");
  fp.hash = fnv1a(canonical_text(fp.entries));
  if (fp.hash != *claimed_hash)
    throw error(fmt::format("job fingerprint: the hash line says {:016x}, the entries hash to {:016x}", *claimed_hash,
                            fp.hash));
  return fp;
}

std::optional<fingerprint_difference> first_difference(const job_fingerprint& mine, const job_fingerprint& theirs) {
  if (mine.hash == theirs.hash && mine.entries == theirs.entries)
    return std::nullopt;
  const std::map<std::string_view, std::string_view> their_values(theirs.entries.begin(), theirs.entries.end());
  std::set<std::string_view> my_keys;
  for (const auto& [key, value] : mine.entries) {
    my_keys.insert(key);
    const auto it = their_values.find(key);
    if (it == their_values.end())
      return fingerprint_difference{key, value, fingerprint_absent};
    if (it->second != value)
      return fingerprint_difference{key, value, std::string(it->second)};
  }
  for (const auto& [key, value] : theirs.entries)
    if (my_keys.count(key) == 0)
      return fingerprint_difference{key, fingerprint_absent, value};
  if (mine.entries != theirs.entries)
    return fingerprint_difference{"(order)", "entries in one order", "in another"};
  // Equal entries, different hashes: one side's hash is not of its entries (built by hand).
  return fingerprint_difference{"(hash)", fmt::format("{:016x}", mine.hash), fmt::format("{:016x}", theirs.hash)};
}

std::string to_string(const fingerprint_difference& d, std::string_view where_theirs) {
  return fmt::format("{}: '{}' here, '{}' {}", d.key, escape(d.mine), escape(d.theirs), where_theirs);
}

std::optional<std::string> job_mismatch(const std::string& mine_wire, const std::string& theirs_wire,
                                        std::string_view where_theirs) {
  if (mine_wire == theirs_wire)
    return std::nullopt;
  if (theirs_wire.empty())
    return std::string("it sent no job fingerprint");
  try {
    const auto d = first_difference(job_fingerprint::from_wire(mine_wire), job_fingerprint::from_wire(theirs_wire));
    if (!d)
      return std::nullopt;
    return to_string(*d, where_theirs);
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
}

} // namespace troupe::config
