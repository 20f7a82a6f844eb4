#pragma once
/// The one door to OpenBLAS (kept apart: <cblas.h> and xtensor-blas clash on CBLAS_ORDER).

#include <cstddef>
#include <string>
#include <string_view>

namespace troupe::tensor::blas {

/// C = alpha * op(A) * op(B) + beta * C, row-major; op(A) is M×K, op(B) is K×N, C is M×N.
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
          std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc);

/// Sets the number of threads OpenBLAS uses in this process.
void set_num_threads(int threads);

/// The number of threads OpenBLAS currently uses.
int num_threads();

/// The kernel set OpenBLAS runs (its core name: "SkylakeX", "Haswell", "Prescott", ...).
std::string core_name();

/// What happened to OpenBLAS's kernel choice when the process started, or "" if nothing did.
///
/// OpenBLAS (Debian 12: 0.3.21, built for every x86 core) picks its kernels from the CPU's family
/// and model. A CPU newer than the library (Emerald Rapids, family 6 model 207, is one) is not in
/// its table and gets the Prescott (SSE3) kernels: sgemm runs 2.6× slower than it should. At
/// start-up, if OPENBLAS_CORETYPE is not set and the chosen kernels use less of the vector unit
/// than the CPU has (AVX-512 → SkylakeX, AVX2 + FMA → Haswell), Troupe switches OpenBLAS to those,
/// before any BLAS call, in every process alike (so GEMM rounding is the same everywhere). A set
/// OPENBLAS_CORETYPE is left as it is.
std::string kernel_note();

/// How much of the vector unit an OpenBLAS kernel set uses: 0 SSE, 1 AVX, 2 AVX2 + FMA, 3 AVX-512
/// (names compared without case; unknown names count as 0).
int kernel_level(std::string_view core);

/// The same scale for this CPU (and its operating system's support of the registers).
int cpu_level();

/// The kernel set to switch to when OpenBLAS chose `chosen` on a CPU of level `cpu`: "SkylakeX"
/// or "Haswell", or "" when `chosen` already uses what the CPU has.
std::string better_kernels(std::string_view chosen, int cpu);

} // namespace troupe::tensor::blas
