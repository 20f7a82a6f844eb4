#pragma once
// A tiny parameter layout and optimizer settings for the aggregator core's unit tests.

#include "ps/aggregator_core.hpp"

namespace troupe::test {

/// Two parameters: "w" of 2 floats and "b" of 1, 3 floats in all.
inline nn::param_layout two_params() {
  nn::param_layout l;
  l.entries = {{"w", {2}, 0, 2}, {"b", {1}, 2, 1}};
  l.total = 3;
  return l;
}

/// A parameter "w" of 2 floats, then batch norm's buffer "bn.running_mean" of 2 floats (4 in all).
inline nn::param_layout param_and_buffer() {
  nn::param_layout l;
  l.entries = {{"w", {2}, 0, 2}, {"bn.running_mean", {2}, 2, 2, true}};
  l.params = 2;
  l.total = 4;
  return l;
}

/// Plain SGD with lr 0.5 (p -= 0.5 · g), 10 clocks per trainer.
inline ps::aggregator_options plain_sgd(config::consistency mode, std::size_t trainers, std::size_t staleness = 0) {
  ps::aggregator_options o;
  o.gate = {mode, staleness};
  o.trainers = trainers;
  o.steps_per_epoch = 10;
  o.epochs = 1;
  o.optimizer.kind = "sgd";
  o.optimizer.momentum = 0;
  o.optimizer.weight_decay = 0;
  o.schedule.kind = "constant";
  o.schedule.base_lr = 0.5f;
  return o;
}

} // namespace troupe::test
