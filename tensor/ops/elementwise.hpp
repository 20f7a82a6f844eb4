#pragma once
/// Element-wise arithmetic with NumPy broadcasting (e.g. a [N, F] input plus a [F] bias).

#include "tensor/var.hpp"

namespace troupe::tensor {

/// Shape of broadcasting a with b (NumPy rules); throws troupe::error naming both shapes otherwise.
shape_t broadcast_shape(const shape_t& a, const shape_t& b);

/// Sums g over the broadcast axes so that it has shape `target` (the backward of broadcasting).
array reduce_to_shape(const array& g, const shape_t& target);

var add(const var& a, const var& b); ///< a + b, broadcast
var sub(const var& a, const var& b); ///< a - b, broadcast
var mul(const var& a, const var& b); ///< a * b (element-wise), broadcast
var scale(const var& a, float s);    ///< s * a
var sum(const var& a);               ///< scalar sum of all elements (shape [])
var mean(const var& a);              ///< scalar mean of all elements (shape [])

} // namespace troupe::tensor
