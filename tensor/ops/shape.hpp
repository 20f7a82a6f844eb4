#pragma once
/// Shape ops and dropout: they move or mask values without arithmetic between elements.

#include "common/rng.hpp"
#include "tensor/var.hpp"

namespace troupe::tensor {

/// Same elements in a new shape (element counts must match).
var reshape(const var& x, const shape_t& shape);

/// [N, d1, d2, ...] -> [N, d1·d2·...].
var flatten(const var& x);

/// Inverted dropout: in training, zeroes each element with probability p (drawn from `gen`) and
/// scales the survivors by 1/(1 − p); outside training it is the identity.
var dropout(const var& x, float p, rng& gen, bool training);

} // namespace troupe::tensor
