#include "common/atomic_file.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace troupe {

namespace {

std::string parent_dir(const std::string& path) {
  const auto pos = path.rfind('/');
  if (pos == std::string::npos)
    return ".";
  return pos == 0 ? "/" : path.substr(0, pos);
}

/// A unique temporary name next to `path`: pid for other processes, a counter for other threads.
std::string temporary_for(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
  return fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter.fetch_add(1, std::memory_order_relaxed));
}

/// The temporary file being written: closed and removed on every path out but a commit.
class temporary_file {
public:
  temporary_file(std::string target, std::string tmp) : target_(std::move(target)), tmp_(std::move(tmp)) {}
  ~temporary_file() {
    if (fd_ >= 0)
      ::close(fd_);
    if (!renamed_)
      ::unlink(tmp_.c_str());
  }
  temporary_file(const temporary_file&) = delete;
  temporary_file& operator=(const temporary_file&) = delete;

  /// Creates the file; O_EXCL so that nothing already at that name (a stale file, a symlink) is used.
  void create() {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0 && errno == EEXIST) { // Left by a crashed process whose pid we now have: ours to replace.
      ::unlink(tmp_.c_str());
      fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd_ < 0)
      fail("creating the temporary file " + tmp_);
  }

  void write_all(std::string_view bytes) {
    std::size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + written, bytes.size() - written);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        fail(fmt::format("writing {} ({} of {} bytes written)", tmp_, written, bytes.size()));
      }
      written += static_cast<std::size_t>(n);
    }
  }

  /// fsync then close: delayed-allocation file systems (and NFS) may report ENOSPC or EIO only here.
  void sync_and_close() {
    if (::fsync(fd_) != 0)
      fail("fsync of " + tmp_);
    const int fd = std::exchange(fd_, -1);
    // On Linux the descriptor is released even when close fails; EINTR is not a lost write.
    if (::close(fd) != 0 && errno != EINTR)
      fail("closing " + tmp_);
  }

  void rename_over_target() {
    if (::rename(tmp_.c_str(), target_.c_str()) != 0)
      fail(fmt::format("renaming {} over it", tmp_));
    renamed_ = true;
  }

private:
  /// Throws for the errno of the call that just failed (read before anything can change it).
  [[noreturn]] void fail(const std::string& step) const {
    const int err = errno;
    throw file_write_error(target_, err,
                           fmt::format("{}: not written: {}: {}; the previous file (if any) is unchanged", target_,
                                       step, std::strerror(err)));
  }

  std::string target_;
  std::string tmp_;
  int fd_ = -1;
  bool renamed_ = false;
};

} // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) {
  {
    temporary_file tmp(path, temporary_for(path));
    tmp.create();
    tmp.write_all(bytes);
    tmp.sync_and_close();
    tmp.rename_over_target();
  }
  // Make the rename durable. A directory we may not open for reading (mode -wx) or a file system
  // that cannot fsync directories (EINVAL) is no write failure; an I/O error is.
  const std::string dir = parent_dir(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return;
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL && err != EROFS)
    throw file_write_error(path, err,
                           fmt::format("{}: written, but fsync of its directory {} failed: {}; the new file is in "
                                       "place but may not survive a crash",
                                       path, dir, std::strerror(err)));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    throw error(fmt::format("{}: read failed", path));
  return ss.str();
}

} // namespace troupe
