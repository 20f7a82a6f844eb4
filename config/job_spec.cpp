#include "config/job_spec.hpp"

#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "common/error.hpp"
#include "config/yaml_util.hpp"

namespace troupe::config {

namespace {

const std::vector<std::string> job_keys = {"model",
                                           "data",
                                           "batch_size",
                                           "epochs",
                                           "seed",
                                           "optimizer",
                                           "schedule",
                                           "consistency",
                                           "evaluation",
                                           "on_nonfinite_gradient",
                                           "max_refused_in_a_row",
                                           "on_trainer_loss",
                                           "balance",
                                           "compression",
                                           "augment",
                                           "backup_trainers"};
const std::vector<std::string> balance_keys = {"mode", "every_clocks", "floor"};
const std::vector<std::string> compression_keys = {"mode", "ratio"};
const std::vector<std::string> compression_modes = {"none", "fp16", "bf16", "topk"};
const std::vector<std::string> nonfinite_policies = {"refuse", "apply"};
const std::vector<std::string> trainer_loss_policies = {"wait", "shrink"};
const std::vector<std::string> data_keys = {"dir", "max_train", "max_test", "normalize"};
const std::vector<std::string> optimizer_keys = {"kind",         "lr",    "momentum", "dampening", "nesterov",
                                                 "weight_decay", "beta1", "beta2",    "eps"};
const std::vector<std::string> optimizer_kinds = {"sgd", "adam", "adamw"};
const std::vector<std::string> schedule_keys = {"kind",   "step_epochs",  "gamma",
                                                "min_lr", "warmup_steps", "warmup_start_factor"};
const std::vector<std::string> schedule_kinds = {"constant", "step", "cosine"};
const std::vector<std::string> consistency_keys = {"mode", "staleness"};
const std::vector<std::string> consistency_modes = {"bsp", "ssp", "asp"};
const std::vector<std::string> evaluation_keys = {"every_epochs", "every_steps"};

const bounds non_negative = bounds::at_least(0);

/// A non-empty path; a relative one written in the file is taken relative to `base_dir`.
std::string read_input_path(const yaml_cursor& c, const std::string& base_dir) {
  const auto text = c.as<std::string>();
  if (text.empty())
    c.fail("expected a path, got an empty string");
  const std::filesystem::path p(text);
  if (p.is_absolute() || c.origin() != nullptr)
    return text;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

/// `section` of `j` as a cursor when present (an empty value counts as present and empty), with its keys checked.
std::optional<yaml_cursor> section(const yaml_cursor& j, const std::string& key, const std::vector<std::string>& keys) {
  auto c = j.find(key);
  if (c)
    c->check_keys(keys);
  return c;
}

data_spec read_data(const yaml_cursor& j, const std::string& base_dir) {
  data_spec out;
  if (auto d = section(j, "data", data_keys)) {
    if (auto dir = d->find("dir")) {
      out.dir = read_input_path(*dir, base_dir);
      out.dir_where = dir->where();
    }
    out.max_train = d->optional<std::size_t>("max_train", non_negative).value_or(out.max_train);
    out.max_test = d->optional<std::size_t>("max_test", non_negative).value_or(out.max_test);
    out.normalize = d->optional<bool>("normalize").value_or(out.normalize);
  }
  return out;
}

optimizer_spec read_optimizer(const yaml_cursor& j) {
  optimizer_spec out;
  if (auto o = section(j, "optimizer", optimizer_keys)) {
    if (auto kind = o->find("kind"))
      out.kind = kind->as_choice(optimizer_kinds, "optimizer");
    out.lr = o->optional<float>("lr", non_negative).value_or(out.lr);
    out.momentum = o->optional<float>("momentum", non_negative).value_or(out.momentum);
    out.dampening = o->optional<float>("dampening", bounds::closed(0, 1)).value_or(out.dampening);
    out.nesterov = o->optional<bool>("nesterov").value_or(out.nesterov);
    out.weight_decay = o->optional<float>("weight_decay", non_negative).value_or(out.weight_decay);
    out.beta1 = o->optional<float>("beta1", bounds::half_open(0, 1)).value_or(out.beta1);
    out.beta2 = o->optional<float>("beta2", bounds::half_open(0, 1)).value_or(out.beta2);
    out.eps = o->optional<float>("eps", non_negative).value_or(out.eps);
    // The same rule as PyTorch's SGD (and optim::sgd): Nesterov momentum needs momentum and no dampening.
    if (out.kind == "sgd" && out.nesterov && (out.momentum <= 0 || out.dampening != 0))
      o->child("nesterov")
          .fail(fmt::format("nesterov needs momentum > 0 and dampening 0, got momentum {} and "
                            "dampening {}",
                            out.momentum, out.dampening));
  }
  return out;
}

schedule_spec read_schedule(const yaml_cursor& j, float lr) {
  schedule_spec out;
  if (auto s = section(j, "schedule", schedule_keys)) {
    if (auto kind = s->find("kind"))
      out.kind = kind->as_choice(schedule_kinds, "schedule");
    out.step_epochs = s->optional<std::size_t>("step_epochs", bounds::positive()).value_or(out.step_epochs);
    out.gamma = s->optional<float>("gamma", non_negative).value_or(out.gamma);
    out.min_lr = s->optional<float>("min_lr", non_negative).value_or(out.min_lr);
    out.warmup_steps = s->optional<std::size_t>("warmup_steps", non_negative).value_or(out.warmup_steps);
    out.warmup_start_factor =
        s->optional<float>("warmup_start_factor", bounds::closed(0, 1)).value_or(out.warmup_start_factor);
    if (out.kind == "cosine" && out.min_lr > lr)
      s->child("min_lr").fail(
          fmt::format("cosine decays from job.optimizer.lr = {} down to min_lr, so min_lr must be <= {}, got {}", lr,
                      lr, out.min_lr));
  }
  return out;
}

consistency_spec read_consistency(const yaml_cursor& j) {
  consistency_spec out;
  if (auto c = section(j, "consistency", consistency_keys)) {
    if (auto mode = c->find("mode")) {
      const std::string m = mode->as_choice(consistency_modes, "consistency mode");
      out.mode = m == "ssp" ? consistency::ssp : m == "asp" ? consistency::asp : consistency::bsp;
    }
    if (auto staleness = c->find("staleness")) {
      if (out.mode != consistency::ssp)
        staleness->fail(fmt::format("staleness only applies to ssp, but the mode is {}; remove it or set mode: ssp",
                                    to_string(out.mode)));
      out.staleness = staleness->as<std::size_t>(non_negative);
    }
  }
  return out;
}

evaluation_spec read_evaluation(const yaml_cursor& j) {
  evaluation_spec out;
  if (auto e = section(j, "evaluation", evaluation_keys)) {
    out.every_epochs = e->optional<std::size_t>("every_epochs", non_negative).value_or(out.every_epochs);
    out.every_steps = e->optional<std::size_t>("every_steps", non_negative).value_or(out.every_steps);
  }
  return out;
}

} // namespace

std::string to_string(nonfinite_policy p) {
  return p == nonfinite_policy::apply ? "apply" : "refuse";
}

std::string to_string(trainer_loss_policy p) {
  return p == trainer_loss_policy::shrink ? "shrink" : "wait";
}

std::string to_string(compression c) {
  switch (c) {
  case compression::fp16:
    return "fp16";
  case compression::bf16:
    return "bf16";
  case compression::topk:
    return "topk";
  case compression::none:
    break;
  }
  return "none";
}

std::string to_string(consistency c) {
  switch (c) {
  case consistency::ssp:
    return "ssp";
  case consistency::asp:
    return "asp";
  case consistency::bsp:
    break;
  }
  return "bsp";
}

/// `job.balance`: `off`, `speed`, or {mode, every_clocks, floor}.
static balance_spec read_balance(const yaml_cursor& b) {
  balance_spec out;
  const auto mode_of = [](const yaml_cursor& m) {
    // YAML 1.1 reads off as a boolean; take it as the word it is.
    if (m.node().IsScalar() && (m.node().Scalar() == "off" || m.node().Scalar() == "false"))
      return std::string("off");
    return m.as_choice({"off", "speed"}, "balance mode");
  };
  // No yaml_cursor is assigned to another: YAML::Node's operator= writes through to the node.
  if (b.node().IsMap()) {
    b.check_keys(balance_keys);
    const auto mode_at = b.find("mode");
    out.speed = mode_at && mode_of(*mode_at) == "speed";
    out.every_clocks = b.optional<std::size_t>("every_clocks", bounds::positive()).value_or(out.every_clocks);
    out.floor = b.optional<double>("floor", bounds::closed(0, 1)).value_or(out.floor);
  } else {
    out.speed = mode_of(b) == "speed";
  }
  return out;
}

/// `job.compression`: `none`, `fp16`, `bf16`, `topk`, or {mode, ratio} (ratio: topk only).
static compression_spec read_compression(const yaml_cursor& c) {
  compression_spec out;
  const auto mode_of = [](const yaml_cursor& m) {
    const std::string s = m.as_choice(compression_modes, "compression mode");
    return s == "fp16"   ? compression::fp16
           : s == "bf16" ? compression::bf16
           : s == "topk" ? compression::topk
                         : compression::none;
  };
  if (c.node().IsMap()) {
    c.check_keys(compression_keys);
    out.mode = mode_of(c.child("mode"));
    if (auto ratio = c.find("ratio")) {
      if (out.mode != compression::topk)
        ratio->fail(fmt::format("ratio only applies to compression mode topk, but the mode is {}; remove it or set "
                                "mode: topk",
                                to_string(out.mode)));
      out.ratio = ratio->as<double>(bounds{0, 1, true, false});
    }
  } else {
    out.mode = mode_of(c);
  }
  return out;
}

job_spec read_job(const yaml_cursor& j, const std::string& base_dir) {
  j.check_keys(job_keys);
  job_spec out;
  const yaml_cursor model = j.child("model");
  out.model = read_input_path(model, base_dir);
  out.model_where = model.where();
  out.data = read_data(j, base_dir);
  out.batch_size = j.optional<std::size_t>("batch_size", bounds::positive()).value_or(out.batch_size);
  out.epochs = j.optional<std::size_t>("epochs", bounds::positive()).value_or(out.epochs);
  out.seed = j.optional<std::uint64_t>("seed").value_or(out.seed);
  out.optimizer = read_optimizer(j);
  out.schedule = read_schedule(j, out.optimizer.lr);
  out.consistency = read_consistency(j);
  out.evaluation = read_evaluation(j);
  if (auto p = j.find("on_nonfinite_gradient"))
    out.on_nonfinite_gradient = p->as_choice(nonfinite_policies, "non-finite gradient policy") == "apply"
                                    ? nonfinite_policy::apply
                                    : nonfinite_policy::refuse;
  if (auto limit = j.find("max_refused_in_a_row")) {
    if (out.on_nonfinite_gradient != nonfinite_policy::refuse)
      limit->fail("max_refused_in_a_row only applies to on_nonfinite_gradient: refuse, but the policy is apply; "
                  "remove it or set on_nonfinite_gradient: refuse");
    out.max_refused_in_a_row = limit->as<std::size_t>(bounds::positive());
  }
  if (auto p = j.find("on_trainer_loss"))
    out.on_trainer_loss = p->as_choice(trainer_loss_policies, "trainer loss policy") == "shrink"
                              ? trainer_loss_policy::shrink
                              : trainer_loss_policy::wait;
  if (auto b = j.find("balance"))
    out.balance = read_balance(*b);
  if (auto c = j.find("compression"))
    out.compression = read_compression(*c);
  if (auto a = j.find("augment"))
    out.augment = read_augment(*a);
  if (auto b = j.find("backup_trainers")) { // b < trainers is checked against the cluster (topology.cpp)
    out.backup_trainers = b->as<std::size_t>(non_negative);
    if (out.backup_trainers > 0 && out.consistency.mode != consistency::bsp)
      b->fail(fmt::format("backup_trainers closes a bsp round with the first N - b gradients, but the consistency "
                          "mode is {}; use consistency: {{mode: bsp}} or backup_trainers: 0",
                          to_string(out.consistency.mode)));
  }
  return out;
}

} // namespace troupe::config
