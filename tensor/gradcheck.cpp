#include "tensor/gradcheck.hpp"

#include <cmath>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/rng.hpp"

namespace troupe::tensor {

namespace {

double project(const array& y, const array& r) {
  double s = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i)
    s += static_cast<double>(y.data()[i]) * r.data()[i];
  return s;
}

} // namespace

gradcheck_result gradcheck(const std::function<var(const std::vector<var>&)>& f, const std::vector<var>& inputs,
                           const gradcheck_options& options) {
  rng gen(options.seed);
  for (var in : inputs) // copies share the node: this clears the caller's gradients
    in.zero_grad();

  var y = f(inputs);
  TROUPE_ENFORCE(y.defined(), "gradcheck: the function returned an undefined var");
  array r = array::from_shape(y.value().shape());
  for (auto& v : r)
    v = static_cast<float>(gen.uniform() * 2.0 - 1.0);
  y.backward(r);

  gradcheck_result result;
  no_grad_guard no_grad;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    var in = inputs[i];
    if (!in.requires_grad())
      continue;
    const array analytic = in.grad().size() == in.size() ? in.grad() : zeros(in.shape());
    const std::size_t n = in.size();
    std::vector<std::size_t> elements;
    if (options.max_elements_per_input == 0 || options.max_elements_per_input >= n) {
      for (std::size_t e = 0; e < n; ++e)
        elements.push_back(e);
    } else {
      for (std::size_t e = 0; e < options.max_elements_per_input; ++e)
        elements.push_back(gen.below(n));
    }
    for (std::size_t e : elements) {
      float& x = in.value().data()[e];
      const float saved = x;
      x = static_cast<float>(saved + options.eps);
      const double plus = project(f(inputs).value(), r);
      x = static_cast<float>(saved - options.eps);
      const double minus = project(f(inputs).value(), r);
      x = saved;
      const double numeric = (plus - minus) / (2.0 * options.eps);
      const double a = analytic.data()[e];
      const double err = std::abs(a - numeric);
      ++result.checked;
      if (err > result.max_abs_error)
        result.max_abs_error = err;
      if (err > options.atol + options.rtol * std::abs(numeric) && result.ok) {
        result.ok = false;
        result.worst = fmt::format("input {} element {}: analytic {:.6g} numeric {:.6g}", i, e, a, numeric);
      }
    }
  }
  return result;
}

} // namespace troupe::tensor
