#include "tensor/array.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace troupe::tensor {

array zeros(const shape_t& shape) {
  return array(shape, 0.0f);
}

std::size_t numel(const shape_t& shape) {
  std::size_t n = 1;
  for (auto d : shape)
    n *= d;
  return n;
}

std::string shape_str(const shape_t& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

shape_t shape_of(const array& a) {
  return shape_t(a.shape().begin(), a.shape().end());
}

} // namespace troupe::tensor
