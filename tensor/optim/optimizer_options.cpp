#include "tensor/optim/optimizer_options.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "tensor/optim/adam.hpp"
#include "tensor/optim/sgd.hpp"

namespace troupe::optim {

std::unique_ptr<optimizer> make_optimizer(const optimizer_options& o) {
  if (o.kind == "sgd")
    return std::make_unique<sgd>(sgd_options{o.momentum, o.dampening, o.weight_decay, o.nesterov});
  if (o.kind == "adam" || o.kind == "adamw")
    return std::make_unique<adam>(adam_options{o.beta1, o.beta2, o.eps, o.weight_decay, o.kind == "adamw"});
  throw error(fmt::format("unknown optimizer '{}' (expected sgd, adam or adamw)", o.kind));
}

} // namespace troupe::optim
