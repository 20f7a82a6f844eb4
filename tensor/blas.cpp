#include "tensor/blas.hpp"

#include <cblas.h>
#include <dlfcn.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace troupe::tensor::blas {

int kernel_level(std::string_view core) {
  constexpr std::array<std::pair<const char*, int>, 10> known{{{"SkylakeX", 3},
                                                               {"Cooperlake", 3},
                                                               {"SapphireRapids", 3},
                                                               {"Haswell", 2},
                                                               {"Zen", 2},
                                                               {"Sandybridge", 1},
                                                               {"Bulldozer", 1},
                                                               {"Piledriver", 1},
                                                               {"Steamroller", 1},
                                                               {"Excavator", 1}}};
  for (const auto& [name, level] : known)
    if (core.size() == std::string_view(name).size() && strncasecmp(core.data(), name, core.size()) == 0)
      return level;
  return 0;
}

int cpu_level() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd"))
    return 3;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return 2;
  if (__builtin_cpu_supports("avx"))
    return 1;
  return 0;
}

std::string better_kernels(std::string_view chosen, int cpu) {
  if (kernel_level(chosen) >= cpu || cpu < 2) // nothing better, or nothing Troupe would pick for it
    return {};
  return cpu >= 3 ? "SkylakeX" : "Haswell";
}

namespace {

std::string fix_kernel_choice() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr)
    return {}; // the environment decides
  const std::string chosen = openblas_get_corename();
  const int level = cpu_level();
  const std::string best = better_kernels(chosen, level);
  if (best.empty())
    return {};
  const char* isa = level >= 3 ? "AVX-512" : "AVX2 + FMA";
  // Only an OpenBLAS built for several cores can switch, and only to a kernel set it has (its
  // table is gotoblas_ + the upper-case name).
  using hook = void (*)();
  auto* quit = reinterpret_cast<hook>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
  auto* init = reinterpret_cast<hook>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
  std::string table = best;
  std::transform(table.begin(), table.end(), table.begin(), [](unsigned char c) { return std::toupper(c); });
  table = "gotoblas_" + table;
  if (quit == nullptr || init == nullptr || dlsym(RTLD_DEFAULT, table.c_str()) == nullptr)
    return fmt::format("OpenBLAS runs its {} kernels on a CPU that has {}, and this OpenBLAS cannot switch; set "
                       "OPENBLAS_CORETYPE={} or install an OpenBLAS that knows this CPU",
                       chosen, isa, best);
  // gotoblas_dynamic_init reads OPENBLAS_CORETYPE; unset again after, so child processes (and the
  // PyTorch reference the benchmarks start) see the environment they were given.
  setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
  quit();
  init();
  unsetenv("OPENBLAS_CORETYPE");
  return fmt::format("OpenBLAS chose its {} kernels for this CPU (it does not know the model); switched to {} ({}). "
                     "Set OPENBLAS_CORETYPE to choose",
                     chosen, openblas_get_corename(), isa);
}

/// Runs before main (OpenBLAS, a shared library, is initialised before this executable's statics)
/// and before any BLAS call.
const std::string kernel_fix = fix_kernel_choice();

} // namespace

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
          std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  if (m == 0 || n == 0)
    return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

void set_num_threads(int threads) {
  openblas_set_num_threads(threads);
}

int num_threads() {
  return openblas_get_num_threads();
}

std::string core_name() {
  return openblas_get_corename();
}

std::string kernel_note() {
  return kernel_fix;
}

} // namespace troupe::tensor::blas
