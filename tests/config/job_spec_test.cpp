#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/topology.hpp"
#include "topology_fixtures.hpp"

using troupe_test::check_rejected;
using troupe_test::doc;
using troupe_test::model_line;
using troupe_test::three;

TEST_CASE("impossible job settings are rejected with position, key path and problem", "[config][topology][job]") {
  const auto job = [](const std::string& line) { return doc(three, model_line + "  " + line + "\n"); };
  check_rejected({
      {"staleness with bsp", job("consistency: {mode: bsp, staleness: 2}"), "bad.yaml:9:39",
       "job.consistency.staleness", "staleness only applies to ssp, but the mode is bsp; remove it or set mode: ssp"},
      {"staleness with asp", job("consistency: {mode: asp, staleness: 0}"), "bad.yaml:9:39",
       "job.consistency.staleness", "staleness only applies to ssp, but the mode is asp"},
      {"staleness without a mode", job("consistency: {staleness: 1}"), "bad.yaml:9:28", "job.consistency.staleness",
       "staleness only applies to ssp, but the mode is bsp"},
      {"unknown consistency mode", job("consistency: {mode: sps}"), "bad.yaml:9:23", "job.consistency.mode",
       "unknown consistency mode 'sps' (did you mean 'ssp'?); expected one of: bsp, ssp, asp"},
      {"negative staleness", job("consistency: {mode: ssp, staleness: -1}"), "bad.yaml:9:39",
       "job.consistency.staleness", "expected a non-negative integer, got '-1'"},
      {"zero batch size", job("batch_size: 0"), "bad.yaml:9:15", "job.batch_size",
       "expected a positive integer, got '0'"},
      {"zero epochs", job("epochs: 0"), "bad.yaml:9:11", "job.epochs", "expected a positive integer, got '0'"},
      {"unknown optimizer", job("optimizer: {kind: adamx}"), "bad.yaml:9:21", "job.optimizer.kind",
       "unknown optimizer 'adamx' (did you mean 'adam'?); expected one of: sgd, adam, adamw"},
      {"negative learning rate", job("optimizer: {lr: -0.1}"), "bad.yaml:9:19", "job.optimizer.lr",
       "expected a non-negative number, got '-0.1'"},
      {"beta1 of 1", job("optimizer: {kind: adam, beta1: 1}"), "bad.yaml:9:34", "job.optimizer.beta1",
       "expected a number in [0, 1), got '1'"},
      {"nesterov without momentum", job("optimizer: {momentum: 0, nesterov: true}"), "bad.yaml:9:38",
       "job.optimizer.nesterov", "nesterov needs momentum > 0 and dampening 0, got momentum 0 and dampening 0"},
      {"unknown schedule", job("schedule: {kind: cosin}"), "bad.yaml:9:20", "job.schedule.kind",
       "unknown schedule 'cosin' (did you mean 'cosine'?); expected one of: constant, step, cosine"},
      {"min_lr above lr", job("schedule: {min_lr: 0.1}"), "bad.yaml:9:22", "job.schedule.min_lr",
       "cosine decays from job.optimizer.lr = 0.05 down to min_lr, so min_lr must be <= 0.05, got 0.1"},
      {"zero step_epochs", job("schedule: {kind: step, step_epochs: 0}"), "bad.yaml:9:39", "job.schedule.step_epochs",
       "expected a positive integer, got '0'"},
      {"warm-up factor above 1", job("schedule: {warmup_start_factor: 2}"), "bad.yaml:9:35",
       "job.schedule.warmup_start_factor", "expected a number in [0, 1], got '2'"},
      {"normalize not a boolean", job("data: {normalize: maybe}"), "bad.yaml:9:21", "job.data.normalize",
       "expected a boolean (true or false), got 'maybe'"},
  });
}

TEST_CASE("the fault policies default to refuse / 10 in a row / wait and are read when given",
          "[config][topology][job]") {
  using troupe::config::nonfinite_policy;
  using troupe::config::parse_topology;
  using troupe::config::trainer_loss_policy;
  const auto defaults = parse_topology(doc(three), "t.yaml").job;
  CHECK(defaults.on_nonfinite_gradient == nonfinite_policy::refuse);
  CHECK(defaults.max_refused_in_a_row == 10);
  CHECK(defaults.on_trainer_loss == trainer_loss_policy::wait);
  const auto given =
      parse_topology(doc(three, model_line + "  on_nonfinite_gradient: refuse\n  max_refused_in_a_row: 3\n"
                                             "  on_trainer_loss: shrink\n"),
                     "t.yaml")
          .job;
  CHECK(given.max_refused_in_a_row == 3);
  CHECK(given.on_trainer_loss == trainer_loss_policy::shrink);
  CHECK(to_string(given.on_trainer_loss) == "shrink");
  const auto apply = parse_topology(doc(three, model_line + "  on_nonfinite_gradient: apply\n"), "t.yaml").job;
  CHECK(apply.on_nonfinite_gradient == nonfinite_policy::apply);
  CHECK(to_string(apply.on_nonfinite_gradient) == "apply");
}

TEST_CASE("impossible fault policies are rejected with position, key path and problem", "[config][topology][job]") {
  const auto job = [](const std::string& lines) { return doc(three, model_line + lines); };
  check_rejected({
      {"unknown loss policy", job("  on_trainer_loss: shrnk\n"), "bad.yaml:9:20", "job.on_trainer_loss",
       "unknown trainer loss policy 'shrnk' (did you mean 'shrink'?); expected one of: wait, shrink"},
      {"unknown non-finite policy", job("  on_nonfinite_gradient: skip\n"), "bad.yaml:9:26",
       "job.on_nonfinite_gradient", "expected one of: refuse, apply"},
      {"zero refusals in a row", job("  max_refused_in_a_row: 0\n"), "bad.yaml:9:25", "job.max_refused_in_a_row",
       "expected a positive integer, got '0'"},
      {"a refusal limit with apply", job("  on_nonfinite_gradient: apply\n  max_refused_in_a_row: 4\n"),
       "bad.yaml:10:25", "job.max_refused_in_a_row",
       "max_refused_in_a_row only applies to on_nonfinite_gradient: refuse, but the policy is apply"},
  });
}

TEST_CASE("job.balance defaults to off and is read as a word or a mapping", "[config][topology][job][balance]") {
  using troupe::config::parse_topology;
  const auto job = [](const std::string& lines) {
    return parse_topology(doc(three, model_line + lines), "t.yaml").job;
  };
  CHECK_FALSE(parse_topology(doc(three), "t.yaml").job.balance.speed);
  CHECK_FALSE(job("  balance: off\n").balance.speed);
  const auto word = job("  balance: speed\n").balance;
  CHECK(word.speed);
  CHECK(word.every_clocks == 10);
  CHECK(word.floor == 0.25);
  const auto map = job("  balance: {mode: speed, every_clocks: 5, floor: 0.5}\n").balance;
  CHECK(map.speed);
  CHECK(map.every_clocks == 5);
  CHECK(map.floor == 0.5);
  CHECK_FALSE(job("  balance: {mode: off, every_clocks: 5}\n").balance.speed);
}

TEST_CASE("impossible balance settings are rejected with position, key path and problem",
          "[config][topology][job][balance]") {
  const auto job = [](const std::string& lines) { return doc(three, model_line + lines); };
  check_rejected({
      {"unknown mode", job("  balance: sped\n"), "bad.yaml:9:12", "job.balance",
       "unknown balance mode 'sped' (did you mean 'speed'?); expected one of: off, speed"},
      {"zero period", job("  balance: {mode: speed, every_clocks: 0}\n"), "bad.yaml:9:40", "job.balance.every_clocks",
       "expected a positive integer, got '0'"},
      {"floor above 1", job("  balance: {mode: speed, floor: 1.5}\n"), "bad.yaml:9:33", "job.balance.floor",
       "got '1.5'"},
      {"unknown key", job("  balance: {mode: speed, every: 3}\n"), "bad.yaml:9:26", "job.balance.every",
       "every_clocks"},
  });
}

TEST_CASE("job.backup_trainers defaults to 0 and is read for bsp", "[config][topology][job][backup]") {
  using troupe::config::parse_topology;
  const std::string two = three + "    - {name: t1, roles: [trainer], endpoint: 'tcp://127.0.0.1:5704', trainers: 1}\n";
  CHECK(parse_topology(doc(two), "t.yaml").job.backup_trainers == 0);
  CHECK(parse_topology(doc(two, model_line + "  backup_trainers: 0\n"), "t.yaml").job.backup_trainers == 0);
  CHECK(parse_topology(doc(two, model_line + "  backup_trainers: 1\n"), "t.yaml").job.backup_trainers == 1);
  // 0 is today's bsp in every mode: nothing to refuse.
  CHECK(parse_topology(doc(three, model_line + "  consistency: {mode: asp}\n  backup_trainers: 0\n"), "t.yaml")
            .job.backup_trainers == 0);
}

TEST_CASE("impossible backup_trainers settings are rejected with position, key path and problem",
          "[config][topology][job][backup]") {
  // doc(three) has one trainer; `two` has two.
  const std::string two = three + "    - {name: t1, roles: [trainer], endpoint: 'tcp://127.0.0.1:5704', trainers: 1}\n";
  check_rejected({
      {"with ssp", doc(three, model_line + "  consistency: {mode: ssp, staleness: 2}\n  backup_trainers: 1\n"),
       "bad.yaml:10:20", "job.backup_trainers",
       "backup_trainers closes a bsp round with the first N - b gradients, but the consistency mode is ssp"},
      {"with asp", doc(three, model_line + "  consistency: {mode: asp}\n  backup_trainers: 1\n"), "bad.yaml:10:20",
       "job.backup_trainers", "but the consistency mode is asp"},
      {"negative", doc(three, model_line + "  backup_trainers: -1\n"), "bad.yaml:9:20", "job.backup_trainers",
       "expected a non-negative integer, got '-1'"},
      {"as many as the trainers", doc(three, model_line + "  backup_trainers: 1\n"), "bad.yaml:9:20",
       "job.backup_trainers", "backup_trainers: 1 with 1 trainer(s): a round closes with the first N - b gradients"},
      {"more than the trainers", doc(two, model_line + "  backup_trainers: 3\n"), "bad.yaml:10:20",
       "job.backup_trainers", "so b must be less than N = 2"},
  });
}

TEST_CASE("job.compression defaults to none and is read as a word or a mapping",
          "[config][topology][job][compression]") {
  using troupe::config::compression;
  using troupe::config::parse_topology;
  const auto job = [](const std::string& lines) {
    return parse_topology(doc(three, model_line + lines), "t.yaml").job;
  };
  CHECK(parse_topology(doc(three), "t.yaml").job.compression.mode == compression::none);
  CHECK(job("  compression: none\n").compression.mode == compression::none);
  CHECK(job("  compression: fp16\n").compression.mode == compression::fp16);
  CHECK(job("  compression: bf16\n").compression.mode == compression::bf16);
  const auto word = job("  compression: topk\n").compression;
  CHECK(word.mode == compression::topk);
  CHECK(word.ratio == 0.01);
  const auto map = job("  compression: {mode: topk, ratio: 0.05}\n").compression;
  CHECK(map.mode == compression::topk);
  CHECK(map.ratio == 0.05);
  CHECK(job("  compression: {mode: topk, ratio: 1}\n").compression.ratio == 1.0);
  CHECK(job("  compression: {mode: bf16}\n").compression.mode == compression::bf16);
}

TEST_CASE("impossible compression settings are rejected with position, key path and problem",
          "[config][topology][job][compression]") {
  const auto job = [](const std::string& lines) { return doc(three, model_line + lines); };
  check_rejected({
      {"unknown mode", job("  compression: fp8\n"), "bad.yaml:9:16", "job.compression",
       "unknown compression mode 'fp8'"},
      {"a close miss", job("  compression: top-k\n"), "bad.yaml:9:16", "job.compression", "did you mean 'topk'?"},
      {"zero ratio", job("  compression: {mode: topk, ratio: 0}\n"), "bad.yaml:9:36", "job.compression.ratio",
       "got '0'"},
      {"ratio above 1", job("  compression: {mode: topk, ratio: 1.5}\n"), "bad.yaml:9:36", "job.compression.ratio",
       "got '1.5'"},
      {"ratio without topk", job("  compression: {mode: fp16, ratio: 0.1}\n"), "bad.yaml:9:36", "job.compression.ratio",
       "ratio only applies to compression mode topk, but the mode is fp16"},
      {"no mode", job("  compression: {ratio: 0.1}\n"), "bad.yaml:9:16", "job.compression.mode",
       "missing required key 'mode'"},
      {"unknown key", job("  compression: {mode: topk, k: 3}\n"), "bad.yaml:9:29", "job.compression.k", "ratio"},
  });
}

TEST_CASE("job.augment defaults to off and reads random_crop and horizontal_flip, each optional",
          "[config][topology][job][augment]") {
  using troupe::config::parse_topology;
  const auto job = [](const std::string& lines) {
    return parse_topology(doc(three, model_line + lines), "t.yaml").job;
  };
  const auto none = parse_topology(doc(three), "t.yaml").job.augment;
  CHECK_FALSE(none.enabled());
  CHECK(none.crop_padding == 0);
  CHECK_FALSE(none.horizontal_flip);
  CHECK_FALSE(job("  augment: {}\n").augment.enabled());
  CHECK_FALSE(job("  augment:\n").augment.enabled());
  const auto both = job("  augment: {random_crop: {padding: 2}, horizontal_flip: true}\n").augment;
  CHECK(both.enabled());
  CHECK(both.crop_padding == 2);
  CHECK(both.horizontal_flip);
  const auto crop = job("  augment:\n    random_crop:\n      padding: 4\n").augment;
  CHECK(crop.crop_padding == 4);
  CHECK_FALSE(crop.horizontal_flip);
  const auto flip = job("  augment: {horizontal_flip: true}\n").augment;
  CHECK(flip.enabled());
  CHECK(flip.crop_padding == 0);
  CHECK(job("  augment: {random_crop: {padding: 27}}\n").augment.crop_padding == 27);
  // A crop of padding 0 and no flip change nothing: off.
  CHECK_FALSE(job("  augment: {random_crop: {padding: 0}, horizontal_flip: false}\n").augment.enabled());
}

TEST_CASE("impossible augment settings are rejected with position, key path and problem",
          "[config][topology][job][augment]") {
  const auto job = [](const std::string& lines) { return doc(three, model_line + lines); };
  check_rejected({
      {"padding of the image size", job("  augment: {random_crop: {padding: 28}}\n"), "bad.yaml:9:36",
       "job.augment.random_crop.padding",
       "padding must be below the image size 28 (Fashion-MNIST images are 28 x 28), got 28"},
      {"negative padding", job("  augment: {random_crop: {padding: -1}}\n"), "bad.yaml:9:36",
       "job.augment.random_crop.padding", "expected a non-negative integer, got '-1'"},
      {"fractional padding", job("  augment: {random_crop: {padding: 1.5}}\n"), "bad.yaml:9:36",
       "job.augment.random_crop.padding", "expected a non-negative integer, got '1.5'"},
      {"random_crop without padding", job("  augment: {random_crop: {}}\n"), "bad.yaml:9:26",
       "job.augment.random_crop.padding", "missing required key 'padding'"},
      {"random_crop not a mapping", job("  augment: {random_crop: 2}\n"), "bad.yaml:9:26", "job.augment.random_crop",
       "expected a mapping"},
      {"flip not a boolean", job("  augment: {horizontal_flip: 0.5}\n"), "bad.yaml:9:30", "job.augment.horizontal_flip",
       "expected a boolean (true or false), got '0.5'"},
      {"unknown key, close to one", job("  augment: {horizontal_flips: true}\n"), "bad.yaml:9:13",
       "job.augment.horizontal_flips", "unknown key 'horizontal_flips' (did you mean 'horizontal_flip'?)"},
      {"unknown transform", job("  augment: {vertical_flip: true}\n"), "bad.yaml:9:13", "job.augment.vertical_flip",
       "allowed keys: random_crop, horizontal_flip"},
      {"unknown crop key", job("  augment: {random_crop: {paddng: 2}}\n"), "bad.yaml:9:27",
       "job.augment.random_crop.paddng", "unknown key 'paddng' (did you mean 'padding'?); allowed keys: padding"},
      {"augment not a mapping", job("  augment: true\n"), "bad.yaml:9:12", "job.augment", "expected a mapping"},
      {"misspelt section", job("  augmnet: {horizontal_flip: true}\n"), "bad.yaml:9:3", "job.augmnet",
       "did you mean 'augment'?"},
  });
}
