#pragma once
/// An exclusive, advisory lock on a directory for the lifetime of a run (checkpoint.dir, metrics.dir).
///
/// The lock is flock(LOCK_EX | LOCK_NB) on a lock file inside the directory, which holds the
/// holder's pid, host and start time for the message a second run gets. flock belongs to the open
/// file description, so:
///  - the kernel releases it when the holder dies, however it dies: the next run takes it over
///    although the file (with the stale pid) is still there — the file's content is only a label;
///  - two dir_locks on one directory conflict even within one process (each opens the file anew);
///  - a child made by fork() without exec shares the description and so the lock (the descriptor
///    is O_CLOEXEC, so an exec'd child does not).
/// The lock file is never removed: unlinking it would let two runs lock two different files.
/// flock is advisory: it keeps out other Troupe runs, not other programs. On NFS, Linux maps it to
/// a POSIX byte-range lock on the whole file, which also works across hosts.

#include <string>

namespace troupe {

class dir_lock {
public:
  /// The lock file's default name inside the locked directory.
  static constexpr const char* default_file_name = ".troupe.lock";

  /// Creates `dir` if missing and locks `<dir>/<file_name>` without waiting. `what` names the
  /// setting the directory came from ("checkpoint.dir"). Throws troupe::error if another run holds
  /// it ("checkpoint.dir runs/x is in use by another run (pid 1234 on host h, started
  /// 2026-01-02T03:04:05Z); stop it or choose another directory"), or naming the path and
  /// strerror(errno) if the directory or the file cannot be made or locked.
  dir_lock(std::string dir, std::string what, std::string file_name = default_file_name);
  ~dir_lock();

  dir_lock(dir_lock&& other) noexcept;
  dir_lock& operator=(dir_lock&& other) noexcept;
  dir_lock(const dir_lock&) = delete;
  dir_lock& operator=(const dir_lock&) = delete;

  /// The locked directory, as given.
  const std::string& dir() const { return dir_; }
  /// The lock file: <dir>/<file_name>.
  const std::string& path() const { return path_; }

  /// Releases the lock now (the destructor does it otherwise); idempotent.
  void release() noexcept;

private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
};

} // namespace troupe
