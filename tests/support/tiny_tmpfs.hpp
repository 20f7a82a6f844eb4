#pragma once
// A tiny tmpfs: a full disk for write-failure tests. Mounting needs root; where it is not
// possible the test reports TROUPE_TEST_SKIPPED (CTest counts it as skipped, not passed).

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <sys/mount.h>

#include <catch2/catch.hpp>

namespace troupe::test {

/// A tmpfs of `size` bytes ("64k", "3m") mounted on a fresh directory, unmounted at scope exit.
class tiny_tmpfs {
public:
  tiny_tmpfs(const std::filesystem::path& dir, const std::string& size) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0755").c_str()) != 0)
      why_not_ = std::strerror(errno);
    else
      mounted_ = true;
  }
  ~tiny_tmpfs() {
    if (mounted_ && ::umount2(dir_.c_str(), 0) != 0)
      ::umount2(dir_.c_str(), MNT_DETACH);
  }
  tiny_tmpfs(const tiny_tmpfs&) = delete;
  tiny_tmpfs& operator=(const tiny_tmpfs&) = delete;

  /// False (after reporting the skip) when no tmpfs could be mounted: the caller skips its checks.
  bool usable() const {
    if (!mounted_)
      WARN("TROUPE_TEST_SKIPPED: cannot mount a tmpfs on " << dir_ << " (" << why_not_ << "; mounting needs root)");
    return mounted_;
  }

  /// Makes the file system read-only (EROFS for every write from now on).
  void make_read_only() { REQUIRE(::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) == 0); }

private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string why_not_;
};

} // namespace troupe::test
