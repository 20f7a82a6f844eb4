#pragma once
/// Concatenation along the channel (feature) axis, as torch.cat(xs, dim=1).

#include <vector>

#include "tensor/var.hpp"

namespace troupe::tensor {

/// y [N, C1 + C2 + ..., ...] from xs[k] [N, Ck, ...] (rank >= 2; every axis but 1 equal);
/// backward hands each input its slice of the gradient.
var concat_channels(const std::vector<var>& xs);

} // namespace troupe::tensor
