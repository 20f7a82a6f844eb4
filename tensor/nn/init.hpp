#pragma once
/// Seeded weight initialisation (He/Kaiming for ReLU networks, Glorot/Xavier otherwise).

#include <cstddef>
#include <string>

#include "common/rng.hpp"
#include "tensor/array.hpp"

namespace troupe::nn {

enum class init_kind { kaiming_uniform, kaiming_normal, glorot_uniform, glorot_normal };

/// Parses "kaiming_uniform" | "kaiming_normal" | "glorot_uniform" | "glorot_normal".
init_kind parse_init_kind(const std::string& name);
std::string to_string(init_kind kind);

/// Fills w: Kaiming uses gain √2 (bound √(6/fan_in), std √(2/fan_in)); Glorot uses
/// bound √(6/(fan_in+fan_out)), std √(2/(fan_in+fan_out)).
void initialize(tensor::array& w, init_kind kind, std::size_t fan_in, std::size_t fan_out, rng& gen);

} // namespace troupe::nn
