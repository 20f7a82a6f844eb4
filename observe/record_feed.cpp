#include "observe/record_feed.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "observe/schema.hpp"

namespace troupe::observe {

namespace {

enum class op { set, add };

struct mapping {
  const char* field;
  const char* metric;
  metric_kind kind;
  op how;
  const char* help;
};

const std::vector<mapping> common_metrics = {
    {"step", "troupe_step", metric_kind::gauge, op::set, "Step of the actor's latest record"},
    {"ts", "troupe_last_record_timestamp_seconds", metric_kind::gauge, op::set,
     "Unix time of the actor's latest metrics record"},
};

const std::vector<mapping> trainer_metrics = {
    {"loss", "troupe_trainer_loss", metric_kind::gauge, op::set, "Mean training loss over the last report interval"},
    {"acc", "troupe_trainer_accuracy", metric_kind::gauge, op::set, "Top-1 training accuracy over the last interval"},
    {"images_per_s", "troupe_trainer_images_per_second", metric_kind::gauge, op::set,
     "Images per second of compute over the last interval"},
    {"clock", "troupe_trainer_clock", metric_kind::gauge, op::set, "Gradients pushed so far"},
    {"version_read", "troupe_trainer_version_read", metric_kind::gauge, op::set,
     "Parameter version the latest gradient was computed on"},
    {"staleness_bound", "troupe_trainer_staleness_bound", metric_kind::gauge, op::set,
     "SSP staleness bound (0 for bsp/asp)"},
    {"compute_s", "troupe_trainer_compute_seconds_total", metric_kind::counter, op::add,
     "Seconds spent in forward/backward"},
    {"wait_s", "troupe_trainer_wait_seconds_total", metric_kind::counter, op::add,
     "Seconds spent waiting for batches or parameters"},
};

const std::vector<mapping> progress_metrics = {
    {"loss", "troupe_aggregator_loss", metric_kind::gauge, op::set, "Mean training loss of the applied gradients"},
    {"acc", "troupe_aggregator_accuracy", metric_kind::gauge, op::set,
     "Top-1 training accuracy of the applied gradients"},
    {"images_per_s", "troupe_aggregator_images_per_second", metric_kind::gauge, op::set,
     "Images per second over all trainers"},
    {"updates_per_s", "troupe_aggregator_updates_per_second", metric_kind::gauge, op::set,
     "Gradients applied per second"},
    {"lr", "troupe_aggregator_learning_rate", metric_kind::gauge, op::set, "Current learning rate"},
    {"version", "troupe_aggregator_version", metric_kind::gauge, op::set, "Parameter version (updates applied)"},
};

const std::vector<mapping> evaluation_metrics = {
    {"epoch", "troupe_eval_epoch", metric_kind::gauge, op::set, "Epoch of the latest evaluation"},
    {"test_loss", "troupe_eval_test_loss", metric_kind::gauge, op::set, "Test loss of the latest evaluation"},
    {"test_acc", "troupe_eval_test_accuracy", metric_kind::gauge, op::set, "Top-1 test accuracy"},
    {"test_top5", "troupe_eval_test_top5_accuracy", metric_kind::gauge, op::set, "Top-5 test accuracy"},
};

const std::vector<mapping> loader_metrics = {
    {"batches_sent", "troupe_loader_batches_sent_total", metric_kind::counter, op::set, "Batches sent to trainers"},
};

const std::vector<mapping> checkpoint_metrics = {
    {"stall_s", "troupe_checkpoint_stall_seconds", metric_kind::gauge, op::set,
     "Seconds training stalled for the latest checkpoint"},
};

// Transport records: per peer (labels node, peer) and per actor's queue (labels node, actor).
const std::vector<mapping> peer_metrics = {
    {"messages_sent", "troupe_peer_messages_sent_total", metric_kind::counter, op::set,
     "Messages this node's van handed to ZeroMQ for the peer"},
    {"bytes_sent", "troupe_peer_bytes_sent_total", metric_kind::counter, op::set, "Bytes sent to the peer"},
    {"messages_received", "troupe_peer_messages_received_total", metric_kind::counter, op::set,
     "Messages received from the peer (probes included)"},
    {"bytes_received", "troupe_peer_bytes_received_total", metric_kind::counter, op::set,
     "Bytes received from the peer"},
    {"rejected", "troupe_peer_rejected_total", metric_kind::counter, op::set,
     "Messages or connections of the peer the van refused"},
    {"send_failures", "troupe_peer_send_failures_total", metric_kind::counter, op::set,
     "Messages to the peer dropped on the way out"},
    {"probes_unanswered", "troupe_peer_probes_unanswered_total", metric_kind::counter, op::set,
     "Round-trip probes to the peer that got no answer in time"},
    {"rtt_s", "troupe_peer_rtt_seconds", metric_kind::gauge, op::set,
     "Smoothed round trip to the peer (the van's ping/pong probes)"},
    {"rtt_min_s", "troupe_peer_rtt_min_seconds", metric_kind::gauge, op::set, "Smallest round trip to the peer"},
};

struct queue_family {
  const char* field; ///< "mailboxes" or "prefetch" in the transport record
  const char* depth; ///< gauge of the latest depth
  const char* max;   ///< gauge of the highest depth since the previous record
  const char* help;
};

const std::vector<queue_family> queue_families = {
    {"mailboxes", "troupe_mailbox_depth", "troupe_mailbox_depth_max", "Messages waiting in the actor's mailbox"},
    {"prefetch", "troupe_prefetch_depth", "troupe_prefetch_depth_max",
     "Batches a trainer holds ahead of use (the loader's prefetch)"},
};

struct extra_family {
  const char* metric;
  metric_kind kind;
  const char* help;
};

const std::vector<extra_family> extra_families = {
    {"troupe_records_total", metric_kind::counter, "Metrics records reported, per actor"},
    {"troupe_aggregator_clock_lag", metric_kind::gauge, "Clocks a trainer is ahead of the slowest trainer"},
    {"troupe_aggregator_staleness_updates_total", metric_kind::counter,
     "Updates applied, by staleness (versions between read and apply)"},
    {"troupe_events_total", metric_kind::counter, "Events recorded (failure, restart, ...), per actor"},
    {"troupe_restarts_total", metric_kind::counter, "Restarts of an actor recorded by a supervisor"},
    {"troupe_trainer_share", metric_kind::gauge,
     "Samples per clock the trainer was given over its last interval (its share of the global batch)"},
    {"troupe_trainer_speed_samples_per_second", metric_kind::gauge,
     "Samples per second of compute over the trainer's last interval"},
    {"troupe_trainer_idle_ratio", metric_kind::gauge,
     "Fraction of the trainer's wall time over its last interval spent waiting, for params or for a batch"},
};

void apply(registry& reg, const std::vector<mapping>& table, const nlohmann::json& rec, const label_set& labels) {
  for (const auto& m : table) {
    const auto it = rec.find(m.field);
    if (it == rec.end() || !(it->is_number() || it->is_null()))
      continue;
    const double v = it->is_null() ? std::numeric_limits<double>::quiet_NaN() : it->get<double>();
    if (m.how == op::set)
      reg.set(m.metric, labels, v);
    else if (std::isfinite(v) && v >= 0)
      reg.add(m.metric, labels, v);
  }
}

/// A trainer's share, speed and idle split, labelled by trainer (as troupe_aggregator_clock_lag);
/// a record of an older run without them sets only the speed.
void feed_trainer_balance(registry& reg, const nlohmann::json& rec, const std::string& node,
                          const std::string& trainer) {
  const auto set = [&](const char* field, const char* metric, label_set labels) {
    const auto it = rec.find(field);
    if (it != rec.end() && (it->is_number() || it->is_null()))
      reg.set(metric, labels, it->is_null() ? std::numeric_limits<double>::quiet_NaN() : it->get<double>());
  };
  set("share", "troupe_trainer_share", {{"node", node}, {"trainer", trainer}});
  set("images_per_s", "troupe_trainer_speed_samples_per_second", {{"node", node}, {"trainer", trainer}});
  set("wait_params_frac", "troupe_trainer_idle_ratio", {{"node", node}, {"trainer", trainer}, {"what", "params"}});
  set("wait_batch_frac", "troupe_trainer_idle_ratio", {{"node", node}, {"trainer", trainer}, {"what", "batch"}});
}

/// The per-peer and per-queue figures of a transport record.
void feed_transport(registry& reg, const nlohmann::json& rec, const std::string& node) {
  if (const auto peers = rec.find("peers"); peers != rec.end() && peers->is_object())
    for (const auto& [peer, figures] : peers->items())
      if (figures.is_object())
        apply(reg, peer_metrics, figures, {{"node", node}, {"peer", peer}});
  for (const auto& q : queue_families) {
    const auto queues = rec.find(q.field);
    if (queues == rec.end() || !queues->is_object())
      continue;
    for (const auto& [actor, r] : queues->items()) {
      const label_set labels{{"node", node}, {"actor", actor}};
      if (r.is_object() && r.contains("depth") && r["depth"].is_number())
        reg.set(q.depth, labels, r["depth"].get<double>());
      if (r.is_object() && r.contains("max") && r["max"].is_number())
        reg.set(q.max, labels, r["max"].get<double>());
    }
  }
}

} // namespace

void declare_record_metrics(registry& reg) {
  for (const auto* table : {&common_metrics, &trainer_metrics, &progress_metrics, &evaluation_metrics, &loader_metrics,
                            &checkpoint_metrics, &peer_metrics})
    for (const auto& m : *table)
      reg.declare(m.metric, m.kind, m.help);
  for (const auto& q : queue_families) {
    reg.declare(q.depth, metric_kind::gauge, std::string(q.help) + " (latest)");
    reg.declare(q.max, metric_kind::gauge, std::string(q.help) + " (highest since the previous transport record)");
  }
  for (const auto& f : extra_families)
    reg.declare(f.metric, f.kind, f.help);
}

void feed_record(registry& reg, const nlohmann::json& rec) {
  if (!validate_common(rec).empty())
    return;
  declare_record_metrics(reg);
  const auto node = rec["node"].get<std::string>();
  const auto actor = rec["actor"].get<std::string>();
  const label_set who{{"node", node}, {"actor", actor}, {"role", rec["role"].get<std::string>()}};
  reg.add("troupe_records_total", who);
  apply(reg, common_metrics, rec, who);

  const auto kind = record_kind(rec);
  const label_set actor_labels{{"node", node}, {"actor", actor}};
  const label_set node_labels{{"node", node}};
  if (kind == "trainer") {
    apply(reg, trainer_metrics, rec, actor_labels);
    feed_trainer_balance(reg, rec, node, actor);
  } else if (kind == "aggregator progress") {
    apply(reg, progress_metrics, rec, node_labels);
    if (const auto lag = rec.find("clock_lag"); lag != rec.end() && lag->is_array())
      for (std::size_t k = 0; k < lag->size(); ++k)
        if ((*lag)[k].is_number())
          reg.set("troupe_aggregator_clock_lag", {{"node", node}, {"trainer", "trainer-" + std::to_string(k)}},
                  (*lag)[k].get<double>());
    if (const auto hist = rec.find("staleness_hist"); hist != rec.end() && hist->is_object())
      for (const auto& [staleness, count] : hist->items())
        if (count.is_number())
          reg.set("troupe_aggregator_staleness_updates_total", {{"node", node}, {"staleness", staleness}},
                  count.get<double>());
  } else if (kind == "aggregator evaluation") {
    apply(reg, evaluation_metrics, rec, node_labels);
  } else if (kind == "loader") {
    apply(reg, loader_metrics, rec, actor_labels);
  } else if (kind == "event checkpoint") {
    apply(reg, checkpoint_metrics, rec, actor_labels);
  } else if (kind == "transport") {
    feed_transport(reg, rec, node);
  }

  if (const auto event = rec.find("event"); event != rec.end() && event->is_string()) {
    reg.add("troupe_events_total", {{"node", node}, {"actor", actor}, {"event", event->get<std::string>()}});
    const auto target = rec.find("target");
    if (*event == "restart" && target != rec.end() && target->is_string())
      reg.add("troupe_restarts_total", {{"node", node}, {"actor", target->get<std::string>()}});
  }
}

} // namespace troupe::observe
