#pragma once
/// The storage type of every tensor: a row-major, dynamically shaped float32 xtensor array.

#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

namespace troupe::tensor {

using array = xt::xarray<float, xt::layout_type::row_major>;
using shape_t = std::vector<std::size_t>;

/// A zero-filled array of the given shape.
array zeros(const shape_t& shape);

/// Number of elements a shape holds.
std::size_t numel(const shape_t& shape);

/// "[64, 1, 28, 28]" for error messages.
std::string shape_str(const shape_t& shape);

/// The shape of an array as a std::vector.
shape_t shape_of(const array& a);

} // namespace troupe::tensor
