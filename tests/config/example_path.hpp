#pragma once
// The source tree's examples/ for the config tests that read the shipped files.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

namespace troupe_test {

/// examples/<name> in the source tree; fails the test when TROUPE_SOURCE_DIR is not set.
inline std::string example(const std::string& name) {
  const char* root = std::getenv("TROUPE_SOURCE_DIR");
  if (root == nullptr)
    FAIL("TROUPE_SOURCE_DIR is not set: run through ctest, or export TROUPE_SOURCE_DIR=<troupe source dir>");
  return std::string(root) + "/examples/" + name;
}

} // namespace troupe_test
