#include "observe/schema.hpp"

#include <map>

#include <fmt/format.h>

namespace troupe::observe {

namespace {

/// JSON types a field may have. `real` also accepts null: nlohmann::json writes a NaN or an
/// infinite loss (a diverged run) as null, and the record is still a valid report.
/// `spans` and `nonfinite_params` are the two structured arrays events carry (docs/metrics.md);
/// for them (and string_array) only the first bad element is reported: a spans array may hold
/// 100000 entries.
enum class type {
  number,
  real,
  integer,
  integer_or_null,
  string,
  boolean,
  integer_array,
  number_array,
  string_array,
  count_map,
  spans,
  nonfinite_params,
  name_counts, ///< {"<name>": count, ...} (refusals by reason)
  entries,     ///< {"<name>": {fields of field_spec::entry}, ...} (per peer, per actor)
};

struct field_spec {
  const char* name;
  type t;
  bool required;
  const std::vector<field_spec>* entry = nullptr; ///< type::entries: the fields of each entry
};

const char* describe(type t) {
  switch (t) {
  case type::number:
    return "a number";
  case type::real:
    return "a number (or null for NaN/Inf)";
  case type::integer:
    return "a non-negative integer";
  case type::integer_or_null:
    return "a non-negative integer or null";
  case type::string:
    return "a string";
  case type::boolean:
    return "true or false";
  case type::integer_array:
    return "an array of non-negative integers";
  case type::number_array:
    return "an array of numbers";
  case type::string_array:
    return "an array of strings";
  case type::count_map:
    return "an object mapping integer strings to non-negative integer counts";
  case type::spans:
    return "an array of [name, start, seconds, correlation] spans";
  case type::nonfinite_params:
    return "an array of {\"name\", \"nan\", \"inf\"} objects";
  case type::name_counts:
    return "an object mapping names to non-negative integer counts";
  case type::entries:
    return "an object mapping names to objects";
  }
  return "?";
}

bool is_count(const nlohmann::json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
}

bool is_integer_string(const std::string& s) {
  if (s.empty() || s.size() > 18)
    return false;
  for (char c : s)
    if (c < '0' || c > '9')
      return false;
  return true;
}

bool is_text(const nlohmann::json& v) {
  return v.is_string() && !v.get_ref<const std::string&>().empty();
}

/// One span as span_log writes it: [name, start (s since the epoch), seconds, correlation id ("" allowed)].
bool is_span(const nlohmann::json& v) {
  return v.is_array() && v.size() == 4 && is_text(v[0]) && v[1].is_number() && v[2].is_number() && v[3].is_string();
}

/// One parameter of a refused gradient: {"name": ..., "nan": count, "inf": count}.
bool is_nonfinite_param(const nlohmann::json& v) {
  return v.is_object() && v.contains("name") && is_text(v["name"]) && v.contains("nan") && is_count(v["nan"]) &&
         v.contains("inf") && is_count(v["inf"]);
}

void check(const nlohmann::json& rec, const field_spec& f, std::vector<field_error>& errors) {
  const auto it = rec.find(f.name);
  if (it == rec.end()) {
    if (f.required)
      errors.push_back({f.name, fmt::format("missing; expected {}", describe(f.t))});
    return;
  }
  const auto& v = *it;
  const auto bad = [&](const std::string& field, const std::string& got) {
    errors.push_back({field, fmt::format("expected {}, got {}", describe(f.t), got)});
  };
  switch (f.t) {
  case type::number:
    if (!v.is_number())
      bad(f.name, v.dump());
    break;
  case type::real:
    if (!v.is_number() && !v.is_null())
      bad(f.name, v.dump());
    break;
  case type::integer:
    if (!is_count(v))
      bad(f.name, v.dump());
    break;
  case type::integer_or_null:
    if (!is_count(v) && !v.is_null())
      bad(f.name, v.dump());
    break;
  case type::string:
    if (!is_text(v))
      bad(f.name, v.dump());
    break;
  case type::boolean:
    if (!v.is_boolean())
      bad(f.name, v.dump());
    break;
  case type::integer_array:
    if (!v.is_array()) {
      bad(f.name, v.dump());
      break;
    }
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!is_count(v[i]))
        bad(fmt::format("{}[{}]", f.name, i), v[i].dump());
    break;
  case type::number_array:
    if (!v.is_array()) {
      bad(f.name, v.dump());
      break;
    }
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!v[i].is_number())
        bad(fmt::format("{}[{}]", f.name, i), v[i].dump());
    break;
  case type::string_array:
  case type::spans:
  case type::nonfinite_params: {
    if (!v.is_array()) {
      bad(f.name, v.dump().substr(0, 80));
      break;
    }
    const auto ok = f.t == type::string_array ? is_text : f.t == type::spans ? is_span : is_nonfinite_param;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!ok(v[i])) {
        bad(fmt::format("{}[{}]", f.name, i), v[i].dump().substr(0, 80));
        break;
      }
    break;
  }
  case type::count_map:
  case type::name_counts:
    if (!v.is_object()) {
      bad(f.name, v.dump());
      break;
    }
    for (const auto& [k, c] : v.items())
      if ((f.t == type::count_map && !is_integer_string(k)) || !is_count(c))
        bad(fmt::format("{}[\"{}\"]", f.name, k), c.dump());
    break;
  case type::entries:
    if (!v.is_object()) {
      bad(f.name, v.dump().substr(0, 80));
      break;
    }
    for (const auto& [k, e] : v.items()) {
      const auto path = fmt::format("{}[\"{}\"]", f.name, k);
      if (!e.is_object()) {
        bad(path, e.dump().substr(0, 80));
        continue;
      }
      std::vector<field_error> inner;
      for (const auto& sub : *f.entry)
        check(e, sub, inner);
      for (auto& err : inner)
        errors.push_back({path + "." + err.field, std::move(err.message)});
    }
    break;
  }
}

const std::vector<field_spec> common_fields = {
    {"ts", type::number, true},   {"node", type::string, true},  {"actor", type::string, true},
    {"role", type::string, true}, {"step", type::integer, true},
};

const std::vector<field_spec> aggregator_progress = {
    {"loss", type::real, true},
    {"acc", type::real, true},
    {"images_per_s", type::real, true},
    {"updates_per_s", type::real, true},
    {"lr", type::real, true},
    {"version", type::integer, true},
    {"clock_lag", type::integer_array, true},
    {"staleness_hist", type::count_map, true},
    {"refused", type::integer, false},               // non-finite gradients refused so far (absent in older logs)
    {"late_dropped", type::integer, false},          // job.backup_trainers > 0: late gradients dropped so far
    {"late_by_trainer", type::integer_array, false}, // the same, per trainer rank
};

const std::vector<field_spec> aggregator_evaluation = {
    {"epoch", type::integer, true},  {"test_loss", type::real, true},  {"test_acc", type::real, true},
    {"test_top5", type::real, true}, {"version", type::integer, true}, {"elapsed_s", type::real, true},
};

const std::vector<field_spec> trainer_fields = {
    {"loss", type::real, true},
    {"acc", type::real, true},
    {"images_per_s", type::real, true},
    {"clock", type::integer, true},
    {"version_read", type::integer, true},
    {"staleness_bound", type::integer, true},
    {"compute_s", type::real, true},
    {"wait_s", type::real, true},
    // Absent in older logs: mean tensor bytes per push in the interval (job.compression), and the
    // L2 norm of the error-feedback residual (only with compression).
    {"push_bytes", type::integer, false},
    {"residual_norm", type::real, false},
    // Absent in older logs: samples per clock it was given (its share of the global batch), the
    // split of wait_s, the period's wall time and each wait's fraction of it.
    {"share", type::real, false},
    {"wait_params_s", type::real, false},
    {"wait_batch_s", type::real, false},
    {"wall_s", type::real, false},
    {"wait_params_frac", type::real, false},
    {"wait_batch_frac", type::real, false},
};

const std::vector<field_spec> loader_fields = {
    {"batches_sent", type::integer, true},
    {"seconds", type::real, false},       // the record at shutdown
    {"batches_per_s", type::real, false}, // progress records
    // At shutdown, backup trainers with balance by speed: samples of rounds closed without their
    // trainer, and of them those handed to the other trainers (loader_core::owe).
    {"late_samples_owed", type::integer, false},
    {"late_samples_served", type::integer, false},
};

// Transport records (runtime/node_reporter.cpp): the van's counters, per peer, and queue depths.
const std::vector<field_spec> peer_fields = {
    {"messages_sent", type::integer, true},
    {"bytes_sent", type::integer, true},
    {"messages_received", type::integer, true},
    {"bytes_received", type::integer, true},
    {"rejected", type::integer, true},
    {"send_failures", type::integer, true},
    {"rtt_samples", type::integer, true},
    {"probes_unanswered", type::integer, true},
    {"rtt_s", type::real, false}, // the round trip, once measured (rtt_samples > 0)
    {"rtt_min_s", type::real, false},
    {"rtt_last_s", type::real, false},
};
const std::vector<field_spec> depth_fields = {{"depth", type::integer, true}, {"max", type::integer, true}};
const std::vector<field_spec> transport_fields = {
    {"messages_sent", type::integer, true},
    {"bytes_sent", type::integer, true},
    {"messages_received", type::integer, true},
    {"bytes_received", type::integer, true},
    {"rejected", type::integer, true},
    {"rejected_by_reason", type::name_counts, true},
    {"send_failures", type::integer, true},
    {"last_rejection", type::string, false},
    {"routed", type::name_counts, false},
    // Absent in older logs:
    {"peers", type::entries, false, &peer_fields},
    {"mailboxes", type::entries, false, &depth_fields},
    {"prefetch", type::entries, false, &depth_fields},
};

// Event records: any record with "event" is one; the fields of every event the runtime writes
// (tests/observe/schema_test.cpp fails when the source writes an event that is not listed here).
using fields = std::vector<field_spec>;
const fields finish_event = {
    {"reason", type::string, true},
    {"version", type::integer, true},
    {"elapsed_s", type::real, true},
    // job.backup_trainers > 0: late gradients dropped in all and per trainer rank
    {"late_dropped", type::integer, false},
    {"late_by_trainer", type::integer_array, false},
};
const fields checkpoint_event = {
    {"path", type::string, true}, {"version", type::integer, true}, {"stall_s", type::real, true}};
const fields resume_event = {{"path", type::string, true}, {"version", type::integer, true}};
const fields checkpoint_skipped_event = {{"reason", type::string, true}};
const fields gradient_refused_event = {
    {"target", type::string, true},    {"clock", type::integer, true}, {"reason", type::string, true},
    {"nan", type::integer, true},      {"inf", type::integer, true},   {"params", type::nonfinite_params, true},
    {"in_a_row", type::integer, true},
};
const fields membership_event = {{"trainers", type::integer, true},
                                 {"lost", type::string_array, true},
                                 {"reason", type::string, true},
                                 {"clock", type::integer, true}};
// job.balance: speed: a new cut of the global batch (ps/loader_core.hpp), written by the loader.
const fields balance_event = {{"from_clock", type::integer, true},
                              {"shares", type::integer_array, true},
                              {"samples_per_s", type::number_array, true}};
// Every node, as its last record: how it ended (runtime/node_host.cpp).
const fields node_exit_event = {
    {"exit_code", type::integer, true}, {"outcome", type::string, true}, {"reason", type::string, true}};
const fields peer_lost_event = {{"target", type::string, true}, {"silent_s", type::real, true}};
const fields peer_back_event = {{"target", type::string, true}};
const fields recovered_event = {{"target", type::string, true}, {"recovery_s", type::real, true}};
const fields resync_event = {{"target", type::string, true}, {"version", type::integer, true}};
// Sharded aggregators: shard `shard` (re)started at checkpoint step `step` and every shard went
// back there (one record per shard; `version` is the recording shard's after the rewind).
const fields rewind_event = {
    {"shard", type::integer, true}, {"step", type::integer, true}, {"version", type::integer, true}};
// job.compression: a trainer's error-feedback residual dropped (reason "resync", with its norm) or
// never carried over (reason "start": a new incarnation continuing a run past clock 0).
const fields residual_reset_event = {
    {"target", type::string, true}, {"reason", type::string, true}, {"norm", type::real, false}};
const fields spans_event = {{"spans", type::spans, true}};
// A message refused because its sender may not speak for the actor it names (reason
// "unauthorized") or runs another job ("other_job", with the first differing key in detail).
const fields refused_event = {{"target", type::string, true},
                              {"from", type::string, true},
                              {"reason", type::string, true},
                              {"detail", type::string, false}};
// A model or checkpoint file that could not be written (checkpoint.on_write_error).
const fields write_failed_event = {
    {"path", type::string, true}, {"error", type::string, true}, {"policy", type::string, true}};
// Supervisor events (actors/node.cpp).
const fields restart_event = {{"target", type::string, true},
                              {"reason", type::string, false},
                              {"backoff_s", type::real, false},
                              {"cause", type::string, false}};
const fields failure_event = {{"target", type::string, true},
                              {"reason", type::string, true},
                              {"backoff_s", type::real, true},
                              {"strategy", type::string, false},
                              {"also_restarting", type::string_array, false}};
const fields escalation_event = {{"target", type::string, true}, {"reason", type::string, true}};
// The run's configuration, once per start of the aggregator (docs/metrics.md).
const fields config_event = {
    {"source", type::string, true}, {"yaml", type::string, true}, {"overrides", type::string_array, false}};
// The federated-bandit workload (bandit/): the server's result and each host's end.
const fields done_event = {
    {"algorithm", type::string, true},        {"T", type::integer, true},
    {"phases", type::integer, true},          {"clients", type::integer, true},
    {"communications", type::integer, true},  {"pull_regret", type::real, true},
    {"communication_cost", type::real, true}, {"cumulative_regret", type::real, true},
    {"active", type::integer_array, true},    {"decided_at", type::integer, true},
    {"chosen", type::integer_or_null, true},  {"best_arm", type::integer, true},
    {"found_best", type::boolean, true},
};
const fields shutdown_event = {
    {"reason", type::string, true}, {"phase", type::integer, true},          {"clients", type::integer, true},
    {"pulls", type::integer, true}, {"communications", type::integer, true}, {"communication_cost", type::real, true},
    {"arm", type::integer, false},
};
const fields any_event = {{"event", type::string, true}};
const fields no_fields = {};

/// Every event the runtime writes, by name.
const std::map<std::string, const fields*> events = {
    {"finish", &finish_event},
    {"checkpoint", &checkpoint_event},
    {"resume", &resume_event},
    {"checkpoint_skipped", &checkpoint_skipped_event},
    {"gradient_refused", &gradient_refused_event},
    {"membership", &membership_event},
    {"balance", &balance_event},
    {"node_exit", &node_exit_event},
    {"peer_lost", &peer_lost_event},
    {"peer_back", &peer_back_event},
    {"recovered", &recovered_event},
    {"resync", &resync_event},
    {"rewind", &rewind_event},
    {"residual_reset", &residual_reset_event},
    {"spans", &spans_event},
    {"refused", &refused_event},
    {"write_failed", &write_failed_event},
    {"restart", &restart_event},
    {"failure", &failure_event},
    {"escalation", &escalation_event},
    {"config", &config_event},
    {"done", &done_event},
    {"shutdown", &shutdown_event},
};

const std::map<std::string, const fields*> kinds = [] {
  std::map<std::string, const fields*> k = {
      {"aggregator progress", &aggregator_progress},
      {"aggregator evaluation", &aggregator_evaluation},
      {"trainer", &trainer_fields},
      {"loader", &loader_fields},
      {"transport", &transport_fields},
      {"supervisor", &any_event}, // a supervisor only reports events
      {"event", &any_event},      // "event" present but not a string
  };
  for (const auto& [name, f] : events)
    k.emplace("event " + name, f);
  return k;
}();

} // namespace

std::string record_kind(const nlohmann::json& rec) {
  if (!rec.is_object())
    return "unknown role";
  if (const auto event = rec.find("event"); event != rec.end())
    return event->is_string() ? "event " + event->get<std::string>() : "event";
  if (!rec.contains("role") || !rec["role"].is_string())
    return "unknown role";
  const auto& role = rec["role"].get_ref<const std::string&>();
  if (role == "aggregator")
    return rec.contains("test_loss") ? "aggregator evaluation" : "aggregator progress";
  if (role == "trainer" || role == "loader" || role == "supervisor" || role == "transport")
    return role;
  return "unknown role";
}

std::vector<std::string> known_events() {
  std::vector<std::string> names;
  for (const auto& [name, f] : events)
    names.push_back(name);
  return names;
}

std::vector<field_error> validate_common(const nlohmann::json& rec) {
  std::vector<field_error> errors;
  if (!rec.is_object()) {
    errors.push_back({"(record)", fmt::format("expected a JSON object, got {}", rec.type_name())});
    return errors;
  }
  for (const auto& f : common_fields)
    check(rec, f, errors);
  return errors;
}

std::vector<field_error> validate_record(const nlohmann::json& rec) {
  auto errors = validate_common(rec);
  if (!rec.is_object())
    return errors;
  // Unknown roles and unknown events: the common fields only (new kinds may appear any time).
  const auto it = kinds.find(record_kind(rec));
  for (const auto& f : it != kinds.end() ? *it->second : no_fields)
    check(rec, f, errors);
  return errors;
}

} // namespace troupe::observe
