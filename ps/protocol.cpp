#include "ps/protocol.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "ps/shard_plan.hpp"

namespace troupe::ps {

namespace {

net::message make(net::msg_type type, std::vector<std::string> to, const nlohmann::json& meta) {
  net::message m(type);
  m.h.to = std::move(to);
  m.h.meta = meta.dump();
  return m;
}

/// The meta object of a received message of the expected type, parsed once.
nlohmann::json meta_of(const net::message& m, net::msg_type expected) {
  if (m.h.type != expected)
    throw error(fmt::format("expected {} but got {} from '{}'", net::to_string(expected), net::to_string(m.h.type),
                            m.h.sender));
  nlohmann::json j = nlohmann::json::parse(m.h.meta, nullptr, false);
  if (!j.is_object())
    throw error(fmt::format("{} from '{}': meta is not a JSON object", net::to_string(m.h.type), m.h.sender));
  return j;
}

template <class T>
T field(const nlohmann::json& meta, const char* key, const net::message& m) {
  auto it = meta.find(key);
  if (it != meta.end()) {
    try {
      // Numbers must be numbers of the right kind: a negative or fractional count is refused.
      if constexpr (std::is_same_v<T, bool>) {
        if (it->is_boolean())
          return it->template get<T>();
      } else if constexpr (std::is_integral_v<T>) {
        if (it->is_number_unsigned())
          return it->template get<T>();
      } else if constexpr (std::is_floating_point_v<T>) {
        if (it->is_number())
          return it->template get<T>();
      } else {
        return it->template get<T>();
      }
    } catch (const nlohmann::json::exception&) {
    }
  }
  throw error(fmt::format("{} from '{}': missing or mistyped field '{}'", net::to_string(m.h.type), m.h.sender, key));
}

void add_flat(net::message& m, const char* name, const flat_f32& v) {
  if (v.packed) {
    const packed_f32& p = *v.packed;
    const std::string base(name);
    switch (p.mode) {
    case config::compression::fp16:
    case config::compression::bf16:
      TROUPE_ENFORCE(p.halves && p.halves->size() == p.size, "{}: '{}' as {} without its {} halves",
                     net::to_string(m.h.type), name, config::to_string(p.mode), p.size);
      m.add_tensor(base + "." + config::to_string(p.mode), {static_cast<std::uint32_t>(p.size)}, p.halves);
      return;
    case config::compression::topk:
      TROUPE_ENFORCE(p.index && p.values && p.index->size() == p.values->size() && p.index->size() <= p.size,
                     "{}: '{}' as top-k without as many positions as values", net::to_string(m.h.type), name);
      m.add_tensor(base + ".index", {static_cast<std::uint32_t>(p.index->size())}, p.index);
      m.add_tensor(base + ".values", {static_cast<std::uint32_t>(p.values->size())}, p.values);
      return;
    case config::compression::none:
      break;
    }
  }
  TROUPE_ENFORCE(v.shared != nullptr, "{}: no '{}' vector to send", net::to_string(m.h.type), name);
  if (v.data == nullptr || (v.data == v.shared->data() && v.size == v.shared->size())) {
    m.add_tensor(name, {static_cast<std::uint32_t>(v.shared->size())}, v.shared);
    return;
  }
  // A shard's range of a shared vector: sent from the vector itself, without a copy.
  TROUPE_ENFORCE(v.data >= v.shared->data() && v.data + v.size <= v.shared->data() + v.shared->size(),
                 "{}: '{}' views outside its vector", net::to_string(m.h.type), name);
  m.add_tensor_view(name, {static_cast<std::uint32_t>(v.size)}, v.shared, v.data, v.size);
}

[[noreturn]] void refuse(const net::message& m, const std::string& problem) {
  throw error(fmt::format("{} from '{}': {}", net::to_string(m.h.type), m.h.sender, problem));
}

/// The tensors a message holds, for errors: "'grad' [4] f32, ...".
std::string tensors_of(const net::message& m) {
  if (m.h.tensors.empty())
    return "no tensors";
  std::vector<std::string> out;
  for (const auto& t : m.h.tensors)
    out.push_back(t.describe());
  return fmt::format("{}", fmt::join(out, ", "));
}

/// The index of the rank-1 tensor `name`, which the job's encoding needs.
std::size_t tensor_at(const net::message& m, const std::string& name, config::compression mode) {
  const auto i = m.find(name);
  if (!i)
    refuse(m, fmt::format("no tensor '{}' (this job's compression is {}); it holds {}", name, config::to_string(mode),
                          tensors_of(m)));
  if (m.h.tensors[*i].shape.size() != 1)
    refuse(m, fmt::format("tensor {} is not a vector", m.h.tensors[*i].describe()));
  return *i;
}

flat_f32 flat_of(const net::message& m, const char* name, std::size_t expected, config::compression mode) {
  const std::string base(name);
  switch (mode) {
  case config::compression::fp16:
  case config::compression::bf16: {
    const auto halves = m.view<std::uint16_t>(tensor_at(m, base + "." + config::to_string(mode), mode));
    if (halves.size != expected)
      refuse(m, fmt::format("tensor '{}.{}' has {} halves, the model has {} parameters", name, config::to_string(mode),
                            halves.size, expected));
    auto out = std::make_shared<std::vector<float>>(expected);
    if (mode == config::compression::fp16)
      from_fp16(halves.data, expected, out->data());
    else
      from_bf16(halves.data, expected, out->data());
    return {out, out->data(), out->size(), nullptr};
  }
  case config::compression::topk: {
    const auto index = m.view<std::int32_t>(tensor_at(m, base + ".index", mode));
    const auto values = m.view<float>(tensor_at(m, base + ".values", mode));
    if (index.size != values.size || index.size > expected)
      refuse(m, fmt::format("top-k '{}' with {} positions and {} values for {} parameters", name, index.size,
                            values.size, expected));
    auto out = std::make_shared<std::vector<float>>(expected, 0.0f);
    std::int64_t previous = -1;
    for (std::size_t j = 0; j < index.size; ++j) {
      const std::int64_t i = index[j];
      if (i <= previous || i >= static_cast<std::int64_t>(expected))
        refuse(m, fmt::format("top-k '{}': position {} at entry {} is {} (positions must increase strictly "
                              "within [0, {}))",
                              name, i, j, i >= static_cast<std::int64_t>(expected) ? "out of range" : "not increasing",
                              expected));
      (*out)[static_cast<std::size_t>(i)] = values[j];
      previous = i;
    }
    return {out, out->data(), out->size(), nullptr};
  }
  case config::compression::none:
    break;
  }
  const auto i = m.find(name);
  if (!i)
    refuse(m, fmt::format("no tensor '{}'; it holds {}", name, tensors_of(m)));
  const auto v = m.view<float>(*i);
  if (v.size != expected || m.h.tensors[*i].shape.size() != 1)
    refuse(m, fmt::format("tensor '{}' has {} floats, the model has {}", name, v.size, expected));
  return {nullptr, v.data, v.size, nullptr};
}

/// The mode's wire name (config::to_string's, kept here so the protocol links no YAML reader).
const char* mode_name(config::consistency c) {
  switch (c) {
  case config::consistency::ssp:
    return "ssp";
  case config::consistency::asp:
    return "asp";
  case config::consistency::bsp:
    break;
  }
  return "bsp";
}

config::consistency mode_of(const std::string& s, const net::message& m) {
  if (s == "bsp")
    return config::consistency::bsp;
  if (s == "ssp")
    return config::consistency::ssp;
  if (s == "asp")
    return config::consistency::asp;
  throw error(fmt::format("{} from '{}': unknown consistency mode '{}'", net::to_string(m.h.type), m.h.sender, s));
}

} // namespace

config::compression params_encoding(config::compression job) {
  return job == config::compression::fp16 || job == config::compression::bf16 ? job : config::compression::none;
}

std::string trainer_name(std::size_t rank) {
  return fmt::format("trainer-{}", rank);
}

net::message encode(const hello& h, const std::string& to) {
  nlohmann::json meta{{"rank", h.rank}};
  if (!h.job.empty())
    meta["job"] = h.job;
  if (h.loader)
    meta["role"] = "loader";
  if (h.at_clock)
    meta["at_clock"] = *h.at_clock;
  return make(net::msg_type::hello, {to}, meta);
}

net::message encode(const welcome& w, const std::string& to) {
  nlohmann::json meta{{"rank", w.rank},     {"trainers", w.trainers},         {"steps_per_epoch", w.steps_per_epoch},
                      {"epochs", w.epochs}, {"mode", mode_name(w.gate.mode)}, {"staleness", w.gate.staleness},
                      {"clock", w.clock}};
  if (w.shard > 0) // an unsharded job's messages stay as they always were
    meta["shard"] = w.shard;
  if (w.generation > 0)
    meta["generation"] = w.generation;
  if (w.answers_clock)
    meta["answers_clock"] = *w.answers_clock;
  auto m = make(net::msg_type::welcome, {to}, meta);
  m.h.clock = w.min_clock;
  m.h.step = w.version;
  add_flat(m, "params", w.params);
  return m;
}

net::message encode(const params_update& p, std::vector<std::string> to) {
  auto m = make(net::msg_type::params, std::move(to),
                p.shard > 0 ? nlohmann::json{{"shard", p.shard}} : nlohmann::json::object());
  m.h.clock = p.min_clock;
  m.h.step = p.version;
  add_flat(m, "params", p.params);
  return m;
}

net::message encode(const push& p) {
  nlohmann::json meta{
      {"rank", p.rank}, {"loss_sum", p.loss_sum}, {"n", p.n}, {"correct1", p.correct1}, {"correct5", p.correct5}};
  if (p.shard > 0)
    meta["shard"] = p.shard;
  auto m = make(net::msg_type::push_gradient, {aggregator_shard_name(p.shard)}, meta);
  m.h.clock = p.clock;
  m.h.step = p.version_read;
  if (p.n > 0)
    add_flat(m, "grad", p.grad);
  return m;
}

net::message encode(const batch_request& r) {
  return make(net::msg_type::request_batches, {loader_name},
              {{"rank", r.rank},
               {"credits", r.credits},
               {"from_clock", r.from_clock},
               {"samples", r.samples},
               {"compute_s", r.compute_s}});
}

net::message encode(const batch& b, const std::string& to) {
  auto m = make(net::msg_type::batch, {to}, {{"epoch", b.epoch}, {"step", b.step}, {"n", b.n}});
  m.h.clock = b.clock;
  if (b.n > 0) {
    TROUPE_ENFORCE(b.image_shape.size() == 3 && b.images_out && b.labels_out, "batch of {} without images or labels",
                   b.n);
    m.add_tensor("images", {static_cast<std::uint32_t>(b.n), b.image_shape[0], b.image_shape[1], b.image_shape[2]},
                 b.images_out);
    m.add_tensor("labels", {static_cast<std::uint32_t>(b.n)}, b.labels_out);
  }
  return m;
}

net::message encode(const shutdown& s, const std::string& to) {
  nlohmann::json meta{{"reason", s.reason}};
  if (s.rank)
    meta["rank"] = *s.rank;
  return make(net::msg_type::shutdown, {to}, meta);
}

net::message encode(const reject& r, const std::string& to) {
  return make(net::msg_type::reject, {to}, {{"reason", r.reason}});
}

net::message encode(const waiting& w, const std::string& to) {
  return make(net::msg_type::ack, {to}, {{"waiting_for", w.for_what}});
}

waiting decode_waiting(const net::message& m) {
  const auto meta = meta_of(m, net::msg_type::ack);
  return {field<std::string>(meta, "waiting_for", m)};
}

net::message encode(const balance_cuts& b, const std::string& to) {
  nlohmann::json cuts = nlohmann::json::array();
  for (const auto& c : b.cuts)
    cuts.push_back({{"from_clock", c.from_clock}, {"shares", c.shares}, {"weights", c.weights}});
  nlohmann::json meta{{"cuts", cuts}, {"held", b.held}};
  if (b.late)
    meta["late"] = {{"rank", b.late->rank}, {"from_clock", b.late->from_clock}, {"to_clock", b.late->to_clock}};
  return make(net::msg_type::balance_cuts, {to}, meta);
}

std::vector<balance_cut> balance_cuts_from_json(const nlohmann::json& cuts, const std::string& where) {
  const auto bad = [&](const std::string& what) { return error(fmt::format("{}: {}", where, what)); };
  if (!cuts.is_array())
    throw bad("the cuts are not an array");
  std::vector<balance_cut> out;
  for (std::size_t k = 0; k < cuts.size(); ++k) {
    const auto& c = cuts[k];
    if (!c.is_object() || !c.contains("from_clock") || !c["from_clock"].is_number_unsigned())
      throw bad(fmt::format("cut {} is not an object with a clock 'from_clock'", k));
    balance_cut cut;
    cut.from_clock = c["from_clock"].get<std::uint64_t>();
    const auto shares = c.value("shares", nlohmann::json()), weights = c.value("weights", nlohmann::json());
    if (!shares.is_array() || !weights.is_array() || shares.size() != weights.size() || shares.empty())
      throw bad(fmt::format("the cut from clock {} needs 'shares' and 'weights' of one length, one per trainer",
                            cut.from_clock));
    for (const auto& v : shares) {
      if (!v.is_number_unsigned())
        throw bad(
            fmt::format("the cut from clock {}: a share is not a count of samples: {}", cut.from_clock, v.dump()));
      cut.shares.push_back(v.get<std::size_t>());
    }
    for (const auto& v : weights) {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
        throw bad(
            fmt::format("the cut from clock {}: a weight is not a finite speed >= 0: {}", cut.from_clock, v.dump()));
      cut.weights.push_back(v.get<double>());
    }
    out.push_back(std::move(cut));
  }
  return out;
}

balance_cuts decode_balance_cuts(const net::message& m) {
  const auto meta = meta_of(m, net::msg_type::balance_cuts);
  balance_cuts out;
  out.held = field<bool>(meta, "held", m);
  out.cuts = balance_cuts_from_json(field<nlohmann::json>(meta, "cuts", m), "balance_cuts from '" + m.h.sender + "'");
  if (meta.contains("late")) {
    const auto late = field<nlohmann::json>(meta, "late", m);
    const auto clock = [&](const char* key) {
      if (!late.is_object() || !late.contains(key) || !late[key].is_number_unsigned())
        throw error(fmt::format("balance_cuts from '{}': 'late' needs a count '{}'", m.h.sender, key));
      return late[key].get<std::uint64_t>();
    };
    out.late = late_share{static_cast<std::size_t>(clock("rank")), clock("from_clock"), clock("to_clock")};
    if (out.late->to_clock < out.late->from_clock)
      throw error(fmt::format("balance_cuts from '{}': late clocks [{}, {}) run backwards", m.h.sender,
                              out.late->from_clock, out.late->to_clock));
  }
  return out;
}

reject decode_reject(const net::message& m) {
  const auto meta = meta_of(m, net::msg_type::reject);
  return {field<std::string>(meta, "reason", m)};
}

net::message encode(const shard_report& r) {
  auto m = make(net::msg_type::params, {aggregator_name}, {{"shard", r.shard}, {"point", r.point}, {"final", r.final}});
  m.h.step = r.version;
  add_flat(m, "params", r.params);
  return m;
}

net::message encode(const rewind& r, const std::string& to) {
  return make(net::msg_type::hello, {to}, {{"shard", r.shard}, {"rewind_to", r.step}, {"generation", r.generation}});
}

bool is_rewind(const net::message& m) {
  return m.h.type == net::msg_type::hello && meta_of(m, net::msg_type::hello).contains("rewind_to");
}

rewind decode_rewind(const net::message& m) {
  const auto meta = meta_of(m, net::msg_type::hello);
  return {field<std::size_t>(meta, "shard", m), field<std::uint64_t>(meta, "rewind_to", m),
          field<std::uint64_t>(meta, "generation", m)};
}

net::message encode(const parts& p, const std::string& to) {
  auto steps = p.steps;
  std::sort(steps.begin(), steps.end());
  if (steps.size() > max_parts_steps) // the newest: where the common step is
    steps.erase(steps.begin(), steps.end() - static_cast<std::ptrdiff_t>(max_parts_steps));
  return make(net::msg_type::hello, {to},
              {{"shard", p.shard}, {"parts", steps}, {"answer", p.answer}, {"running", p.running}});
}

bool is_parts(const net::message& m) {
  return m.h.type == net::msg_type::hello && meta_of(m, net::msg_type::hello).contains("parts");
}

parts decode_parts(const net::message& m) {
  const auto meta = meta_of(m, net::msg_type::hello);
  parts out{field<std::size_t>(meta, "shard", m), {}, field<bool>(meta, "answer", m), field<bool>(meta, "running", m)};
  const auto& steps = meta["parts"];
  if (!steps.is_array() || steps.size() > max_parts_steps)
    refuse(m, fmt::format("'parts' must be an array of at most {} checkpoint steps", max_parts_steps));
  for (const auto& v : steps) {
    if (!v.is_number_unsigned())
      refuse(m, fmt::format("'parts' holds {}, not a checkpoint step", v.dump()));
    out.steps.push_back(v.get<std::uint64_t>());
  }
  return out;
}

std::size_t shard_of(const net::message& m, std::size_t shards) {
  const auto meta = meta_of(m, m.h.type);
  const auto s = meta.contains("shard") ? field<std::size_t>(meta, "shard", m) : 0;
  if (s >= shards)
    refuse(m, fmt::format("shard {} but the job has {} aggregator shard{}", s, shards, shards == 1 ? "" : "s"));
  return s;
}

shard_report decode_shard_report(const net::message& m, std::size_t range_size) {
  const auto meta = meta_of(m, net::msg_type::params);
  shard_report r;
  r.shard = field<std::size_t>(meta, "shard", m);
  r.point = field<std::uint64_t>(meta, "point", m);
  r.final = field<bool>(meta, "final", m);
  r.version = m.h.step;
  r.params = flat_of(m, "params", range_size, config::compression::none);
  return r;
}

net::message heartbeat_message(std::vector<std::string> to) {
  return make(net::msg_type::heartbeat, std::move(to), nlohmann::json::object());
}

hello decode_hello(const net::message& m) {
  const auto meta = meta_of(m, net::msg_type::hello);
  hello h;
  if (meta.contains("rank")) // the aggregator's "say hello now" carries none
    h.rank = field<std::size_t>(meta, "rank", m);
  if (meta.contains("job"))
    h.job = field<std::string>(meta, "job", m);
  if (meta.contains("role")) {
    const auto role = field<std::string>(meta, "role", m);
    if (role != "loader")
      throw error(fmt::format("hello from '{}': unknown role '{}'", m.h.sender, role));
    h.loader = true;
  }
  if (meta.contains("at_clock"))
    h.at_clock = field<std::uint64_t>(meta, "at_clock", m);
  return h;
}

welcome decode_welcome(const net::message& m, std::size_t params_size, config::compression compression) {
  const auto meta = meta_of(m, net::msg_type::welcome);
  welcome w;
  if (meta.contains("shard"))
    w.shard = field<std::size_t>(meta, "shard", m);
  if (meta.contains("generation"))
    w.generation = field<std::uint64_t>(meta, "generation", m);
  w.rank = field<std::size_t>(meta, "rank", m);
  w.trainers = field<std::size_t>(meta, "trainers", m);
  w.steps_per_epoch = field<std::uint64_t>(meta, "steps_per_epoch", m);
  w.epochs = field<std::uint64_t>(meta, "epochs", m);
  w.gate.mode = mode_of(field<std::string>(meta, "mode", m), m);
  w.gate.staleness = field<std::size_t>(meta, "staleness", m);
  w.clock = field<std::uint64_t>(meta, "clock", m);
  if (meta.contains("answers_clock"))
    w.answers_clock = field<std::uint64_t>(meta, "answers_clock", m);
  w.min_clock = m.h.clock;
  w.version = m.h.step;
  w.params = flat_of(m, "params", params_size, params_encoding(compression));
  return w;
}

params_update decode_params(const net::message& m, std::size_t params_size, config::compression compression) {
  const auto meta = meta_of(m, net::msg_type::params);
  params_update p{m.h.clock, m.h.step, flat_of(m, "params", params_size, params_encoding(compression))};
  if (meta.contains("shard"))
    p.shard = field<std::size_t>(meta, "shard", m);
  return p;
}

push decode_push(const net::message& m, std::size_t params_size, config::compression compression) {
  const auto meta = meta_of(m, net::msg_type::push_gradient);
  push p;
  if (meta.contains("shard"))
    p.shard = field<std::size_t>(meta, "shard", m);
  p.rank = field<std::size_t>(meta, "rank", m);
  p.clock = m.h.clock;
  p.version_read = m.h.step;
  p.loss_sum = field<double>(meta, "loss_sum", m);
  p.n = field<std::size_t>(meta, "n", m);
  p.correct1 = field<std::size_t>(meta, "correct1", m);
  p.correct5 = field<std::size_t>(meta, "correct5", m);
  if (p.n > 0)
    p.grad = flat_of(m, "grad", params_size, compression);
  return p;
}

batch_request decode_batch_request(const net::message& m) {
  const auto meta = meta_of(m, net::msg_type::request_batches);
  batch_request r{field<std::size_t>(meta, "rank", m), field<std::size_t>(meta, "credits", m),
                  field<std::uint64_t>(meta, "from_clock", m)};
  if (meta.contains("samples"))
    r.samples = field<std::size_t>(meta, "samples", m);
  if (meta.contains("compute_s"))
    r.compute_s = field<double>(meta, "compute_s", m);
  return r;
}

batch decode_batch(const net::message& m) {
  const auto meta = meta_of(m, net::msg_type::batch);
  batch b;
  b.clock = m.h.clock;
  b.epoch = field<std::size_t>(meta, "epoch", m);
  b.step = field<std::size_t>(meta, "step", m);
  b.n = field<std::size_t>(meta, "n", m);
  if (b.n > 0) {
    if (m.h.tensors.size() != 2)
      throw error(
          fmt::format("batch from '{}': {} tensors, expected images and labels", m.h.sender, m.h.tensors.size()));
    b.images = m.view<float>(0);
    b.labels = m.view<std::int32_t>(1);
    const auto& shape = m.h.tensors[0].shape;
    if (shape.size() != 4 || shape[0] != b.n || b.labels.size != b.n)
      throw error(fmt::format("batch from '{}': {} images of shape {} / {} labels for n = {}", m.h.sender,
                              shape.empty() ? 0 : shape[0], m.h.tensors[0].describe(), b.labels.size, b.n));
    b.image_shape = {shape[1], shape[2], shape[3]};
  }
  return b;
}

shutdown decode_shutdown(const net::message& m) {
  const auto meta = meta_of(m, net::msg_type::shutdown);
  shutdown s;
  s.reason = meta.contains("reason") ? field<std::string>(meta, "reason", m) : std::string("stopped");
  if (meta.contains("rank"))
    s.rank = field<std::size_t>(meta, "rank", m);
  return s;
}

} // namespace troupe::ps
