#include "tensor/optim/optimizer.hpp"

#include <charconv>
#include <cmath>
#include <string>

#include "common/error.hpp"

namespace troupe::optim {

optimizer::~optimizer() = default;

void optimizer::check_lr(float lr) {
  TROUPE_ENFORCE(std::isfinite(lr) && lr >= 0.0f, "learning rate must be finite and >= 0, got {}", lr);
}

double optimizer::as_written(float value) {
  if (!std::isfinite(value))
    return value;
  const std::string text = fmt::format("{}", value); // Shortest round-trip form, locale-free.
  double result = value;
  std::from_chars(text.data(), text.data() + text.size(), result);
  return result;
}

void optimizer::check_kind(const optimizer_state& state, const std::string& expected) {
  TROUPE_ENFORCE(state.kind == expected, "cannot load a '{}' optimizer state into a '{}' optimizer", state.kind,
                 expected);
}

} // namespace troupe::optim
