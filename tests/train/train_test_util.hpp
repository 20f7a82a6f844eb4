#pragma once
// Shared helpers for the training tests.

#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

namespace troupe::test {

/// The checkout's root (CTest sets TROUPE_SOURCE_DIR); fails the test clearly when it is unset.
inline std::string source_dir() {
  const char* dir = std::getenv("TROUPE_SOURCE_DIR");
  if (dir == nullptr)
    FAIL("TROUPE_SOURCE_DIR is not set (run the tests through ctest)");
  return dir;
}

inline std::string reference_model() {
  return source_dir() + "/examples/models/fmnist_cnn.yaml";
}

} // namespace troupe::test
