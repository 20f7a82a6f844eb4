#pragma once
/// The one door to OpenBLAS (kept apart: <cblas.h> and xtensor-blas clash on CBLAS_ORDER).

#include <cstddef>

namespace troupe::tensor::blas {

/// C = alpha * op(A) * op(B) + beta * C, row-major; op(A) is M×K, op(B) is K×N, C is M×N.
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
          std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc);

/// Sets the number of threads OpenBLAS uses in this process.
void set_num_threads(int threads);

/// The number of threads OpenBLAS currently uses.
int num_threads();

} // namespace troupe::tensor::blas
