#pragma once
// What every test area needs from its environment: the source tree and scratch directories.

#include <cstdlib>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <unistd.h>

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

/// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct scratch_dir {
  std::filesystem::path path;
  explicit scratch_dir(const std::string& tag) {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() / fmt::format("troupe-{}-{}-{}", tag, ::getpid(), counter++);
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() { std::filesystem::remove_all(path); }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
};

} // namespace troupe::test
