#pragma once
/// Test helpers: a scratch directory, writers for raw and gzip IDX files, an error assertion.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>

#include "common/error.hpp"

/// Requires `expr` to throw troupe::error whose message satisfies the string matcher.
#define REQUIRE_DATA_ERROR(expr, matcher)                                                                              \
  do {                                                                                                                 \
    REQUIRE_THROWS_AS(expr, ::troupe::error);                                                                          \
    REQUIRE_THROWS_WITH(expr, matcher);                                                                                \
  } while (false)

namespace troupe::data::testing {

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class temp_dir {
public:
  temp_dir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("troupe-data-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// Path of `name` inside the directory.
  std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
  std::filesystem::path path_;
};

/// IDX bytes: magic 00 00, type, rank, big-endian dims, then the payload as given.
inline std::vector<std::uint8_t> idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims,
                                           const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> out{0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (const std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<std::uint8_t>(d >> shift));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

/// A payload of `count` bytes with values i % 251, easy to check and not all equal.
inline std::vector<std::uint8_t> pattern(std::size_t count) {
  std::vector<std::uint8_t> out(count);
  for (std::size_t i = 0; i < count; ++i)
    out[i] = static_cast<std::uint8_t>(i % 251);
  return out;
}

/// Writes `bytes` to `path` unchanged.
inline void write_raw(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

/// Writes `bytes` to `path` as one gzip member (zlib's gzwrite).
inline void write_gz(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (f == nullptr)
    throw std::runtime_error("cannot gzopen " + path);
  const int n = bytes.empty() ? 0 : gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  const int rc = gzclose(f);
  if (n != static_cast<int>(bytes.size()) || rc != Z_OK)
    throw std::runtime_error("cannot gzwrite " + path);
}

/// The bytes of a file, to corrupt them in place.
inline std::vector<std::uint8_t> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace troupe::data::testing
