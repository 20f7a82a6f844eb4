#pragma once
/// A chain of modules; parameter names are "<index>.<name>" as in PyTorch's nn.Sequential.

#include "tensor/nn/module.hpp"

namespace troupe::nn {

class sequential : public module {
public:
  sequential() = default;
  void add(module_ptr m);
  var forward(const var& x) override;
  std::vector<named_parameter> parameters() override;
  void train(bool on) override;
  std::string describe() const override;
  std::size_t size() const { return layers_.size(); }
  module& at(std::size_t i) { return *layers_.at(i); }
  /// Total number of parameter elements.
  std::size_t parameter_count();

private:
  std::vector<module_ptr> layers_;
};

} // namespace troupe::nn
