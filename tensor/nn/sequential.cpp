#include "tensor/nn/sequential.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "tensor/nn/layers.hpp"
#include "tensor/ops/pool.hpp"

namespace troupe::nn {

void sequential::add(module_ptr m) {
  TROUPE_ENFORCE(m != nullptr, "sequential::add of a null module");
  m->train(training_);
  layers_.push_back(std::move(m));
}

var sequential::forward(const var& x) {
  var h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (fusion_ && i + 1 < layers_.size()) {
      const auto* act = dynamic_cast<const activation*>(layers_[i].get());
      const auto* pool = dynamic_cast<const max_pool2d*>(layers_[i + 1].get());
      if (act && pool && act->kind() == activation_kind::relu) {
        h = tensor::relu_max_pool2d(h, pool->kernel(), pool->stride());
        ++i;
        continue;
      }
    }
    h = layers_[i]->forward(h);
  }
  return h;
}

std::vector<named_parameter> sequential::parameters() {
  std::vector<named_parameter> all;
  for (std::size_t i = 0; i < layers_.size(); ++i)
    for (auto& p : layers_[i]->parameters())
      all.push_back({fmt::format("{}.{}", i, p.name), p.param});
  return all;
}

std::vector<named_buffer> sequential::buffers() {
  std::vector<named_buffer> all;
  for (std::size_t i = 0; i < layers_.size(); ++i)
    for (auto& b : layers_[i]->buffers())
      all.push_back({fmt::format("{}.{}", i, b.name), b.buffer});
  return all;
}

void sequential::train(bool on) {
  training_ = on;
  for (auto& layer : layers_)
    layer->train(on);
}

std::string sequential::describe() const {
  std::string s = "Sequential(\n";
  for (std::size_t i = 0; i < layers_.size(); ++i)
    s += fmt::format("  ({}): {}\n", i, layers_[i]->describe());
  return s + ")";
}

std::size_t sequential::parameter_count() {
  std::size_t n = 0;
  for (auto& p : parameters())
    n += p.param.size();
  return n;
}

} // namespace troupe::nn
