#include "common/dir_lock.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/error.hpp"

namespace troupe {

namespace {

/// What the holder writes into the lock file; also the most a contender reads back.
constexpr std::size_t max_label_bytes = 1024;

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0)
    return "?";
  return buf;
}

/// "2026-01-02T03:04:05Z" for now.
std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// The value of "key=value" in the lock file's text, or "?" if it is not there.
std::string field(const std::string& text, const std::string& key) {
  const std::string needle = key + "=";
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    if (text.compare(pos, needle.size(), needle) == 0) {
      std::string value = text.substr(pos + needle.size(), end - pos - needle.size());
      // A label from a file anyone could have written: keep it printable.
      for (char& c : value)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
          c = '?';
      return value;
    }
    pos = end + 1;
  }
  return "?";
}

/// "pid 1234 on host h, started 2026-..." from the lock file behind `fd` (the holder's label).
std::string holder_of(int fd) {
  char buf[max_label_bytes];
  ssize_t n;
  do
    n = ::pread(fd, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return "holder not recorded"; // The holder is between locking and writing its label, or could not write it.
  const std::string text(buf, static_cast<std::size_t>(n));
  const std::string pid = field(text, "pid"), host = field(text, "host");
  const bool self = pid == std::to_string(::getpid()) && host == host_name();
  return fmt::format("pid {} on host {}{}, started {}", pid, host, self ? " (this process)" : "",
                     field(text, "started"));
}

} // namespace

dir_lock::dir_lock(std::string dir, std::string what, std::string file_name) : dir_(std::move(dir)) {
  TROUPE_ENFORCE(!dir_.empty(), "dir_lock: the directory name for {} is empty", what);
  TROUPE_ENFORCE(!file_name.empty() && file_name.find('/') == std::string::npos,
                 "dir_lock: the lock file name '{}' must be a plain file name", file_name);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec)
    throw error(fmt::format("{} {}: cannot create the directory: {}", what, dir_, ec.message()));
  path_ = (std::filesystem::path(dir_) / file_name).string();

  // O_CLOEXEC: an exec'd child must not inherit (and so keep) the lock.
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0)
    throw error(fmt::format("{} {}: cannot open the lock file {}: {}", what, dir_, path_, std::strerror(errno)));
  int rc;
  do
    rc = ::flock(fd_, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    const std::string message =
        err == EWOULDBLOCK ? fmt::format("{} {} is in use by another run ({}); stop it or choose another directory",
                                         what, dir_, holder_of(fd_))
                           : fmt::format("{} {}: cannot lock {}: {}", what, dir_, path_, std::strerror(err));
    ::close(fd_);
    fd_ = -1;
    throw error(message);
  }

  // The label is for the message a contender gets; failing to write it (a full disk) must not stop
  // the run, which holds the lock all the same: best effort.
  const std::string label =
      fmt::format("pid={}\nhost={}\nstarted={}\n", ::getpid(), host_name(), utc_now()).substr(0, max_label_bytes);
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t n = ::pwrite(fd_, label.data(), label.size(), 0);
  }
}

dir_lock::~dir_lock() {
  release();
}

dir_lock::dir_lock(dir_lock&& other) noexcept
    : dir_(std::move(other.dir_)), path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

dir_lock& dir_lock::operator=(dir_lock&& other) noexcept {
  if (this != &other) {
    release();
    dir_ = std::move(other.dir_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void dir_lock::release() noexcept {
  if (fd_ < 0)
    return;
  // Clear the label while still holding the lock (the file stays: see the header), then unlock by closing.
  [[maybe_unused]] const int rc = ::ftruncate(fd_, 0);
  ::close(fd_);
  fd_ = -1;
}

} // namespace troupe
