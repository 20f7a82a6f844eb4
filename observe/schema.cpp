#include "observe/schema.hpp"

#include <map>

#include <fmt/format.h>

namespace troupe::observe {

namespace {

/// JSON types a field may have. `real` also accepts null: nlohmann::json writes a NaN or an
/// infinite loss (a diverged run) as null, and the record is still a valid report.
enum class type { number, real, integer, string, integer_array, count_map };

struct field_spec {
  const char* name;
  type t;
  bool required;
};

const char* describe(type t) {
  switch (t) {
  case type::number:
    return "a number";
  case type::real:
    return "a number (or null for NaN/Inf)";
  case type::integer:
    return "a non-negative integer";
  case type::string:
    return "a string";
  case type::integer_array:
    return "an array of non-negative integers";
  case type::count_map:
    return "an object mapping integer strings to non-negative integer counts";
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
  case type::string:
    if (!v.is_string() || v.get_ref<const std::string&>().empty())
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
  case type::count_map:
    if (!v.is_object()) {
      bad(f.name, v.dump());
      break;
    }
    for (const auto& [k, c] : v.items())
      if (!is_integer_string(k) || !is_count(c))
        bad(fmt::format("{}[\"{}\"]", f.name, k), c.dump());
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
};

const std::vector<field_spec> loader_fields = {
    {"batches_sent", type::integer, true},
    {"seconds", type::real, false},        // the record at shutdown
    {"batches_per_s", type::real, false},  // progress records
};

// Event records: any record with "event" is one; the fields of the known events.
const std::vector<field_spec> finish_event = {
    {"reason", type::string, true}, {"version", type::integer, true}, {"elapsed_s", type::real, true}};
const std::vector<field_spec> checkpoint_event = {
    {"path", type::string, true}, {"version", type::integer, true}, {"stall_s", type::real, true}};
const std::vector<field_spec> resume_event = {{"path", type::string, true}, {"version", type::integer, true}};
const std::vector<field_spec> checkpoint_skipped_event = {{"reason", type::string, true}};
// Reserved for the supervisors of issue 4.
const std::vector<field_spec> restart_event = {
    {"target", type::string, true}, {"reason", type::string, false}, {"backoff_s", type::real, false}};
const std::vector<field_spec> failure_event = {{"target", type::string, false}, {"reason", type::string, false}};
const std::vector<field_spec> any_event = {{"event", type::string, true}};
const std::vector<field_spec> no_fields = {};

const std::map<std::string, const std::vector<field_spec>*> kinds = {
    {"aggregator progress", &aggregator_progress},
    {"aggregator evaluation", &aggregator_evaluation},
    {"trainer", &trainer_fields},
    {"loader", &loader_fields},
    {"supervisor", &any_event}, // a supervisor only reports events
    {"event", &any_event},      // "event" present but not a string
    {"event finish", &finish_event},
    {"event checkpoint", &checkpoint_event},
    {"event resume", &resume_event},
    {"event checkpoint_skipped", &checkpoint_skipped_event},
    {"event restart", &restart_event},
    {"event failure", &failure_event},
    {"event escalation", &failure_event},
};

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
  if (role == "trainer" || role == "loader" || role == "supervisor")
    return role;
  return "unknown role";
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
