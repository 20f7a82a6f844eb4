// OpenBLAS's kernel choice: Troupe switches a library that does not know this CPU to the kernels
// the CPU can run (tensor/blas.hpp, kernel_note).

#include <cstdlib>
#include <iostream>

#include <catch2/catch.hpp>

#include "tensor/blas.hpp"

using namespace troupe::tensor;

TEST_CASE("blas: kernel levels and the kernel set to switch to", "[blas]") {
  CHECK(blas::kernel_level("Prescott") == 0);
  CHECK(blas::kernel_level("SANDYBRIDGE") == 1);
  CHECK(blas::kernel_level("haswell") == 2);
  CHECK(blas::kernel_level("Zen") == 2);
  CHECK(blas::kernel_level("SkylakeX") == 3);
  CHECK(blas::kernel_level("SapphireRapids") == 3);
  CHECK(blas::kernel_level("Skylake") == 0); // not a prefix match
  // An AVX-512 CPU given older kernels gets SkylakeX; one that has them keeps them.
  CHECK(blas::better_kernels("Prescott", 3) == "SkylakeX");
  CHECK(blas::better_kernels("Haswell", 3) == "SkylakeX");
  CHECK(blas::better_kernels("SkylakeX", 3).empty());
  CHECK(blas::better_kernels("Cooperlake", 3).empty());
  // AVX2 + FMA: Haswell; Zen is already that level.
  CHECK(blas::better_kernels("Prescott", 2) == "Haswell");
  CHECK(blas::better_kernels("Sandybridge", 2) == "Haswell");
  CHECK(blas::better_kernels("Zen", 2).empty());
  // Without AVX2 there is nothing to switch to.
  CHECK(blas::better_kernels("Prescott", 1).empty());
  CHECK(blas::better_kernels("Prescott", 0).empty());
}

TEST_CASE("blas: the kernels running use the vector unit this CPU has", "[blas]") {
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE")) {
    std::cout << "TROUPE_TEST_SKIPPED: OPENBLAS_CORETYPE=" << forced << " is set, and Troupe leaves it as it is"
              << std::endl;
    return;
  }
  INFO("OpenBLAS core: " << blas::core_name() << "; CPU level " << blas::cpu_level()
                         << "; note: " << blas::kernel_note());
  // Whatever OpenBLAS chose at load, the running kernels are at least what the CPU supports up
  // to AVX-512 (the note says so when Troupe switched them).
  const int wanted = blas::cpu_level() >= 2 ? blas::cpu_level() : 0;
  CHECK(blas::kernel_level(blas::core_name()) >= wanted);
  if (!blas::kernel_note().empty())
    CHECK(blas::kernel_note().find(blas::core_name()) != std::string::npos);
}
