#pragma once
/// Reverse-mode automatic differentiation on a dynamic graph.
///
/// Every op run on `var`s whose inputs require gradients records a node holding its output value,
/// its inputs and a closure that maps the output's gradient to gradients of the inputs. The graph
/// is exactly what the program ran: C++ loops and branches need no special treatment.
/// `backward()` walks the recorded nodes in reverse topological order, accumulates gradients into
/// every node that requires them (leaves keep theirs until `zero_grad`), and then releases the
/// graph (inputs and closures of interior nodes) so its memory is freed.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/array.hpp"

namespace troupe::tensor {

struct node;
using node_ptr = std::shared_ptr<node>;

/// Maps the gradient of a node's output (self.grad) into its inputs' gradients (accumulating).
using backward_fn = std::function<void(node& self)>;

/// Told during a backward pass that a leaf's gradient is final: every recorded node that reads
/// the leaf has run its backward (a parameter's gradient can then leave while the rest of the
/// pass runs, as in DDP's gradient buckets).
using leaf_ready_fn = std::function<void(const node& leaf)>;

struct node {
  array value;
  array grad; ///< empty until the first gradient is accumulated
  bool requires_grad = false;
  std::vector<node_ptr> inputs;
  backward_fn backward;

  /// The gradient buffer, zero-initialised to the value's shape on first use.
  array& grad_buffer();
  /// grad += g (g must have the value's shape).
  void accumulate(const array& g);
};

/// A handle to a value in the graph (cheap to copy; copies share the node).
class var {
public:
  var() = default;
  /// A leaf; parameters are leaves with requires_grad = true.
  explicit var(array value, bool requires_grad = false);
  explicit var(node_ptr n) : node_(std::move(n)) {}

  const array& value() const { return node_->value; }
  array& value() { return node_->value; }
  /// The accumulated gradient; empty if none was accumulated yet.
  const array& grad() const { return node_->grad; }
  array& grad() { return node_->grad; }
  bool requires_grad() const { return node_ && node_->requires_grad; }
  shape_t shape() const { return shape_of(node_->value); }
  std::size_t size() const { return node_->value.size(); }
  bool defined() const { return static_cast<bool>(node_); }
  const node_ptr& get() const { return node_; }

  /// Back-propagates from this scalar (seed 1) and releases the graph.
  void backward();
  /// backward(), with `on_leaf` as below.
  void backward_reporting_leaves(const leaf_ready_fn& on_leaf);
  /// Back-propagates the given seed gradient (same shape as the value) and releases the graph.
  void backward(const array& seed);
  /// backward(seed), calling `on_leaf` once for each leaf that requires gradients and is read by
  /// the graph, as soon as its gradient is final; the order of the computation is unchanged.
  void backward(const array& seed, const leaf_ready_fn& on_leaf);
  /// Clears the accumulated gradient.
  void zero_grad();

private:
  node_ptr node_;
};

/// Records the result of an op: a node with the given value that requires gradients iff
/// gradient recording is enabled and any input requires them (then `fn` is kept for backward).
var make_result(array value, std::vector<var> inputs, backward_fn fn);

/// Whether ops record the graph on this thread (true unless a no_grad_guard is alive).
bool grad_enabled();

/// Disables graph recording on this thread for its lifetime (evaluation, optimizer updates).
class no_grad_guard {
public:
  no_grad_guard();
  ~no_grad_guard();
  no_grad_guard(const no_grad_guard&) = delete;
  no_grad_guard& operator=(const no_grad_guard&) = delete;

private:
  bool previous_;
};

} // namespace troupe::tensor
