#include "tensor/var.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "common/error.hpp"

namespace troupe::tensor {

namespace {
thread_local bool grad_mode = true;
} // namespace

array& node::grad_buffer() {
  if (grad.size() != value.size() || grad.dimension() != value.dimension())
    grad = zeros(shape_of(value));
  return grad;
}

void node::accumulate(const array& g) {
  TROUPE_ENFORCE(g.size() == value.size(), "gradient of shape {} does not match value of shape {}",
                 shape_str(shape_of(g)), shape_str(shape_of(value)));
  if (grad.size() != value.size() || grad.dimension() != value.dimension()) {
    grad = g;
    grad.reshape(value.shape());
    return;
  }
  float* dst = grad.data();
  const float* src = g.data();
  for (std::size_t i = 0, n = grad.size(); i < n; ++i)
    dst[i] += src[i];
}

var::var(array value, bool requires_grad) : node_(std::make_shared<node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

void var::backward() {
  backward_reporting_leaves(nullptr);
}

void var::backward_reporting_leaves(const leaf_ready_fn& on_leaf) {
  TROUPE_ENFORCE(node_ && node_->value.size() == 1, "backward() without a seed needs a scalar, got shape {}",
                 node_ ? shape_str(shape()) : std::string("<undefined>"));
  array seed = zeros(shape());
  seed.data()[0] = 1.0f;
  backward(seed, on_leaf);
}

void var::backward(const array& seed) {
  backward(seed, nullptr);
}

void var::backward(const array& seed, const leaf_ready_fn& on_leaf) {
  TROUPE_ENFORCE(node_, "backward() on an undefined var");
  if (!node_->requires_grad)
    return;
  // Iterative post-order DFS: `order` ends up with inputs before the nodes that consume them.
  std::vector<node*> order;
  std::unordered_set<node*> visited;
  std::vector<std::pair<node*, std::size_t>> stack{{node_.get(), 0}};
  visited.insert(node_.get());
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      node* child = n->inputs[next++].get();
      if (child->requires_grad && visited.insert(child).second)
        stack.emplace_back(child, 0);
    } else {
      order.push_back(n);
      stack.pop_back();
    }
  }
  // With on_leaf: how many input slots of recorded nodes still have to run for each leaf. The
  // reverse walk reaches every reader of a leaf before the leaf itself, but a reader may list the
  // leaf before a long input chain (then the leaf comes last): counting tells the earliest moment.
  std::unordered_map<node*, std::size_t> readers;
  if (on_leaf)
    for (node* n : order)
      if (n->backward)
        for (const auto& in : n->inputs)
          if (!in->backward && in->requires_grad)
            ++readers[in.get()];
  node_->accumulate(seed);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    node* n = *it;
    if (n->backward && n->grad.size() == n->value.size())
      n->backward(*n);
    if (on_leaf && n->backward)
      for (const auto& in : n->inputs)
        if (auto r = readers.find(in.get()); r != readers.end() && --r->second == 0)
          on_leaf(*in);
  }
  // Release the graph: interior nodes drop their inputs, closures and gradients.
  for (node* n : order) {
    if (n->backward) {
      n->backward = nullptr;
      n->inputs.clear();
      if (n != node_.get())
        n->grad = array();
    }
  }
}

void var::zero_grad() {
  if (node_ && node_->grad.size() > 0)
    std::fill(node_->grad.begin(), node_->grad.end(), 0.0f);
}

var make_result(array value, std::vector<var> inputs, backward_fn fn) {
  auto n = std::make_shared<node>();
  n->value = std::move(value);
  if (grad_mode) {
    for (const auto& in : inputs)
      if (in.requires_grad()) {
        n->requires_grad = true;
        break;
      }
  }
  if (n->requires_grad) {
    n->inputs.reserve(inputs.size());
    for (auto& in : inputs)
      n->inputs.push_back(in.get());
    n->backward = std::move(fn);
  }
  return var(std::move(n));
}

bool grad_enabled() {
  return grad_mode;
}

no_grad_guard::no_grad_guard() : previous_(grad_mode) {
  grad_mode = false;
}

no_grad_guard::~no_grad_guard() {
  grad_mode = previous_;
}

} // namespace troupe::tensor
