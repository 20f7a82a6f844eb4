#include "tensor/nn/graph.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "tensor/ops/concat.hpp"
#include "tensor/ops/elementwise.hpp"

namespace troupe::nn {

std::size_t graph::push(node n) {
  TROUPE_ENFORCE(!n.name.empty(), "graph nodes need a name");
  for (const node& other : nodes_)
    TROUPE_ENFORCE(other.name != n.name, "graph already has a node named '{}'", n.name);
  for (std::size_t from : n.from)
    TROUPE_ENFORCE(from <= nodes_.size(), "graph node '{}' reads node {}, which is not added yet", n.name, from);
  nodes_.push_back(std::move(n));
  return nodes_.size();
}

std::size_t graph::add(std::string name, module_ptr m, std::size_t from) {
  TROUPE_ENFORCE(m != nullptr, "graph::add of a null module");
  m->train(training_);
  node n;
  n.name = std::move(name);
  n.layer = std::move(m);
  n.from = {from};
  return push(std::move(n));
}

std::size_t graph::join(std::string name, join_kind kind, std::vector<std::size_t> from) {
  TROUPE_ENFORCE(from.size() >= 2, "graph join '{}' needs at least two inputs, got {}", name, from.size());
  node n;
  n.name = std::move(name);
  n.kind = kind;
  n.from = std::move(from);
  return push(std::move(n));
}

var graph::forward(const var& x) {
  TROUPE_ENFORCE(!nodes_.empty(), "forward of an empty graph");
  std::vector<var> out(nodes_.size() + 1);
  out[input] = x;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const node& n = nodes_[i];
    if (n.layer) {
      out[i + 1] = n.layer->forward(out[n.from[0]]);
    } else if (n.kind == join_kind::add) {
      var sum = tensor::add(out[n.from[0]], out[n.from[1]]);
      for (std::size_t k = 2; k < n.from.size(); ++k)
        sum = tensor::add(sum, out[n.from[k]]);
      out[i + 1] = sum;
    } else {
      std::vector<var> parts;
      for (std::size_t from : n.from)
        parts.push_back(out[from]);
      out[i + 1] = tensor::concat_channels(parts);
    }
  }
  return out.back();
}

std::vector<named_parameter> graph::parameters() {
  std::vector<named_parameter> all;
  for (auto& n : nodes_)
    if (n.layer)
      for (auto& p : n.layer->parameters())
        all.push_back({n.name + "." + p.name, p.param});
  return all;
}

std::vector<named_buffer> graph::buffers() {
  std::vector<named_buffer> all;
  for (auto& n : nodes_)
    if (n.layer)
      for (auto& b : n.layer->buffers())
        all.push_back({n.name + "." + b.name, b.buffer});
  return all;
}

void graph::train(bool on) {
  training_ = on;
  for (auto& n : nodes_)
    if (n.layer)
      n.layer->train(on);
}

std::string graph::describe() const {
  const auto name_of = [&](std::size_t id) { return id == input ? std::string("input") : nodes_[id - 1].name; };
  std::string s = "Graph(\n";
  for (const node& n : nodes_) {
    std::vector<std::string> from;
    for (std::size_t id : n.from)
      from.push_back(name_of(id));
    const std::string what = n.layer ? n.layer->describe() : n.kind == join_kind::add ? "Add()" : "Concat(dim=1)";
    s += fmt::format("  ({}): {} <- {}\n", n.name, what, fmt::join(from, ", "));
  }
  return s + ")";
}

module* graph::at(std::size_t id) {
  TROUPE_ENFORCE(id >= 1 && id <= nodes_.size(), "graph has no node {}", id);
  return nodes_[id - 1].layer.get();
}

} // namespace troupe::nn
