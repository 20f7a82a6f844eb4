// Cost of the aggregator's non-finite gradient check (ps/gradient_check.hpp) next to the
// copy of the same gradient that a bsp round makes anyway.
//
//   ./build/benchmarks/bench_nonfinite_check [--floats 225034] [--repeats 2000]
//
// Reports the median over `repeats` calls, in ns per float and µs per gradient, for
// count_nonfinite (every push) and describe_nonfinite (only a flagged push). Last line: JSON.

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <limits>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ps/gradient_check.hpp"

using namespace troupe;
using troupe::ps::count_nonfinite;
using troupe::ps::describe_nonfinite;
using clock_type = std::chrono::steady_clock;

namespace {

template <class F>
double median_seconds(std::size_t repeats, F&& f) {
  std::vector<double> t;
  t.reserve(repeats);
  for (std::size_t i = 0; i < repeats; ++i) {
    const auto t0 = clock_type::now();
    f();
    t.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"cost of the non-finite gradient check"};
  std::size_t floats = 225034, repeats = 2000;
  app.add_option("--floats", floats, "gradient length (225034 = the reference CNN)");
  app.add_option("--repeats", repeats, "timed calls; the median is reported");
  CLI11_PARSE(app, argc, argv);

  std::vector<float> grad(floats);
  for (std::size_t i = 0; i < floats; ++i)
    grad[i] = static_cast<float>((i * 2654435761u) % 1000) * 1e-4f - 0.05f;
  // A layout of 10 parameters, like the CNN's, for the per-parameter pass.
  nn::param_layout layout;
  for (std::size_t k = 0, off = 0; k < 10; ++k) {
    const std::size_t size = k + 1 < 10 ? floats / 10 : floats - off;
    layout.entries.push_back({fmt::format("{}.weight", k), {size}, off, size});
    off += size;
  }
  layout.total = floats;
  std::vector<float> copy(floats);

  std::size_t sink = 0;
  const double check = median_seconds(repeats, [&] { sink += count_nonfinite(grad.data(), floats); });
  const double copy_s = median_seconds(repeats, [&] {
    std::memcpy(copy.data(), grad.data(), floats * sizeof(float));
    sink += copy[floats / 2] > 0;
  });
  grad[floats / 3] = std::numeric_limits<float>::quiet_NaN();
  const double describe =
      median_seconds(repeats / 10 + 1, [&] { sink += describe_nonfinite(grad.data(), layout).nan; });
  const auto per_float = [&](double s) { return s * 1e9 / static_cast<double>(floats); };
  fmt::print("{} floats, median of {} calls\n", floats, repeats);
  fmt::print("count_nonfinite     {:8.3f} ns/float  {:8.2f} us/gradient\n", per_float(check), check * 1e6);
  fmt::print("copy (bsp round)    {:8.3f} ns/float  {:8.2f} us/gradient\n", per_float(copy_s), copy_s * 1e6);
  fmt::print("describe_nonfinite  {:8.3f} ns/float  {:8.2f} us/gradient (flagged gradients only)\n",
             per_float(describe), describe * 1e6);
  std::cout << nlohmann::json{{"floats", floats},
                              {"check_ns_per_float", per_float(check)},
                              {"copy_ns_per_float", per_float(copy_s)},
                              {"describe_ns_per_float", per_float(describe)},
                              {"sink", sink}}
                   .dump()
            << "\n";
  return 0;
}
