#pragma once
/// A chain of modules; parameter names are "<index>.<name>" as in PyTorch's nn.Sequential.
///
/// forward() fuses a ReLU followed by a 2x2 max-pool into one pass (tensor::relu_max_pool2d):
/// the same values and gradients with a third of the memory traffic. set_fusion(false) runs
/// every layer on its own (the tests compare both).

#include "tensor/nn/module.hpp"

namespace troupe::nn {

class sequential : public module {
public:
  sequential() = default;
  void add(module_ptr m);
  var forward(const var& x) override;
  std::vector<named_parameter> parameters() override;
  std::vector<named_buffer> buffers() override;
  void train(bool on) override;
  std::string describe() const override;
  std::size_t size() const { return layers_.size(); }
  module& at(std::size_t i) { return *layers_.at(i); }
  /// Total number of parameter elements.
  std::size_t parameter_count();
  void set_fusion(bool on) { fusion_ = on; }

private:
  std::vector<module_ptr> layers_;
  bool fusion_ = true;
};

} // namespace troupe::nn
