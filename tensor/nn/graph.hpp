#pragma once
/// A model whose layers form a directed acyclic graph (a ResNet's residual blocks, a concat of
/// branches): each node runs one module on one earlier node's output, or joins the outputs of
/// several earlier nodes element-wise (add) or along the channels (concat).
///
/// Node 0 is the model's input. Nodes are added after the nodes they read (a topological order),
/// forward runs them in that order and returns the last node's output. Parameter and buffer names
/// are "<node name>.<name>", as PyTorch names those of a submodule.

#include <string>
#include <vector>

#include "tensor/nn/module.hpp"

namespace troupe::nn {

enum class join_kind { add, concat };

class graph : public module {
public:
  /// The id of the model's input.
  static constexpr std::size_t input = 0;

  /// Adds a node named `name` running m on the output of node `from`; returns its id.
  std::size_t add(std::string name, module_ptr m, std::size_t from);
  /// Adds a node joining the outputs of the nodes `from` (at least two); returns its id.
  std::size_t join(std::string name, join_kind kind, std::vector<std::size_t> from);

  var forward(const var& x) override;
  std::vector<named_parameter> parameters() override;
  std::vector<named_buffer> buffers() override;
  void train(bool on) override;
  std::string describe() const override;
  /// Nodes besides the input.
  std::size_t size() const { return nodes_.size(); }
  /// The module of node `id` (1..size()), or nullptr for a join.
  module* at(std::size_t id);

private:
  struct node {
    std::string name;
    module_ptr layer; ///< null for a join
    join_kind kind = join_kind::add;
    std::vector<std::size_t> from;
  };
  std::size_t push(node n);

  std::vector<node> nodes_; ///< node id i is nodes_[i - 1]
};

} // namespace troupe::nn
