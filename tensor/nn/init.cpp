#include "tensor/nn/init.hpp"

#include <cmath>

#include "common/error.hpp"

namespace troupe::nn {

init_kind parse_init_kind(const std::string& name) {
  if (name == "kaiming_uniform")
    return init_kind::kaiming_uniform;
  if (name == "kaiming_normal")
    return init_kind::kaiming_normal;
  if (name == "glorot_uniform")
    return init_kind::glorot_uniform;
  if (name == "glorot_normal")
    return init_kind::glorot_normal;
  throw error("unknown initialisation '" + name +
              "' (expected kaiming_uniform, kaiming_normal, glorot_uniform or glorot_normal)");
}

std::string to_string(init_kind kind) {
  switch (kind) {
  case init_kind::kaiming_uniform:
    return "kaiming_uniform";
  case init_kind::kaiming_normal:
    return "kaiming_normal";
  case init_kind::glorot_uniform:
    return "glorot_uniform";
  case init_kind::glorot_normal:
    return "glorot_normal";
  }
  return "?";
}

void initialize(tensor::array& w, init_kind kind, std::size_t fan_in, std::size_t fan_out, rng& gen) {
  TROUPE_ENFORCE(fan_in > 0 && fan_out > 0, "initialisation needs positive fan-in and fan-out");
  const double glorot_den = static_cast<double>(fan_in + fan_out);
  switch (kind) {
  case init_kind::kaiming_uniform:
  case init_kind::glorot_uniform: {
    const double bound =
        kind == init_kind::kaiming_uniform ? std::sqrt(6.0 / static_cast<double>(fan_in)) : std::sqrt(6.0 / glorot_den);
    for (auto& v : w)
      v = static_cast<float>((gen.uniform() * 2.0 - 1.0) * bound);
    break;
  }
  case init_kind::kaiming_normal:
  case init_kind::glorot_normal: {
    const double stddev =
        kind == init_kind::kaiming_normal ? std::sqrt(2.0 / static_cast<double>(fan_in)) : std::sqrt(2.0 / glorot_den);
    for (auto& v : w)
      v = static_cast<float>(gen.normal() * stddev);
    break;
  }
  }
}

} // namespace troupe::nn
