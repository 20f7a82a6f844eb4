#include "common/dir_lock.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "tests/support/test_env.hpp"

using namespace troupe;
namespace fs = std::filesystem;

namespace {

/// A child process that takes the lock on `dir` and holds it until killed; the parent learns
/// through a pipe whether the child got it (no sleeps).
struct lock_holder_child {
  pid_t pid = -1;
  bool locked = false;

  explicit lock_holder_child(const std::string& dir) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      char ok = '0';
      std::optional<dir_lock> lock;
      try {
        lock.emplace(dir, "checkpoint.dir");
        ok = '1';
      } catch (...) {
      }
      [[maybe_unused]] const ssize_t n = ::write(fds[1], &ok, 1);
      ::close(fds[1]);
      if (ok == '1')
        for (;;)
          ::pause(); // Held until SIGKILL: the kernel, not a destructor, must release it.
      ::_exit(1);
    }
    ::close(fds[1]);
    char ok = '0';
    REQUIRE(::read(fds[0], &ok, 1) == 1);
    ::close(fds[0]);
    locked = ok == '1';
  }

  void kill() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }

  ~lock_holder_child() { kill(); }
};

std::string message_of(const std::string& dir, const std::string& what = "checkpoint.dir") {
  try {
    dir_lock lock(dir, what);
  } catch (const error& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("a directory lock is taken, released on destruction and taken again", "[common][dir_lock]") {
  test::scratch_dir scratch("dir-lock");
  const std::string dir = (scratch.path / "runs" / "x").string(); // Created by the lock.
  {
    dir_lock lock(dir, "checkpoint.dir");
    CHECK(fs::is_directory(dir));
    CHECK(lock.path() == (fs::path(dir) / ".troupe.lock").string());
    const std::string label = read_file(lock.path());
    CHECK_THAT(label, Catch::Contains("pid=" + std::to_string(::getpid())));
    CHECK_THAT(label, Catch::Contains("host=") && Catch::Contains("started="));
  }
  { dir_lock again(dir, "checkpoint.dir"); }
  dir_lock moved_from(dir, "checkpoint.dir");
  dir_lock moved_to(std::move(moved_from));
  CHECK_THAT(message_of(dir), Catch::Contains("is in use"));
  moved_to.release();
  CHECK(message_of(dir).empty());
}

TEST_CASE("a second lock on a held directory is refused, naming the holder", "[common][dir_lock]") {
  test::scratch_dir scratch("dir-lock");
  const std::string dir = scratch.path.string();

  SECTION("within one process: flock on a second open file description conflicts") {
    dir_lock first(dir, "checkpoint.dir");
    const std::string msg = message_of(dir);
    CHECK_THAT(msg, Catch::StartsWith("checkpoint.dir " + dir + " is in use by another run (pid " +
                                      std::to_string(::getpid()) + " on host "));
    CHECK_THAT(msg, Catch::Contains("(this process)") && Catch::Contains(", started 20") &&
                        Catch::EndsWith("); stop it or choose another directory"));
  }
  SECTION("another lock file name in the same directory is another lock") {
    dir_lock first(dir, "metrics.dir", ".t0.lock");
    dir_lock second(dir, "metrics.dir", ".t1.lock");
    CHECK_THROWS_WITH(dir_lock(dir, "metrics.dir", ".t0.lock"), Catch::StartsWith("metrics.dir " + dir + " is in use"));
  }
}

TEST_CASE("a lock held by another process is refused; after that process is killed it is free", "[common][dir_lock]") {
  test::scratch_dir scratch("dir-lock");
  const std::string dir = scratch.path.string();
  lock_holder_child child(dir);
  REQUIRE(child.locked);
  const std::string msg = message_of(dir, "metrics.dir");
  CHECK_THAT(msg, Catch::StartsWith("metrics.dir " + dir + " is in use by another run (pid " +
                                    std::to_string(child.pid) + " on host "));
  CHECK_THAT(msg, !Catch::Contains("this process"));

  child.kill();
  // The lock file is still there with the dead child's pid: a label, not the lock.
  CHECK(fs::exists(fs::path(dir) / ".troupe.lock"));
  dir_lock lock(dir, "metrics.dir");
  CHECK_THAT(read_file(lock.path()), Catch::Contains("pid=" + std::to_string(::getpid()) + "\n"));
}

TEST_CASE("a stale or foreign label in the lock file does not hold the lock", "[common][dir_lock]") {
  test::scratch_dir scratch("dir-lock");
  const std::string dir = scratch.path.string();
  std::ofstream(scratch.path / ".troupe.lock") << "pid=999999999\nhost=elsewhere\nstarted=long ago\n";
  dir_lock lock(dir, "checkpoint.dir");
  CHECK_THAT(read_file(lock.path()), !Catch::Contains("elsewhere"));
}

TEST_CASE("a directory that cannot be made is named with the reason", "[common][dir_lock]") {
  test::scratch_dir scratch("dir-lock");
  std::ofstream(scratch.path / "file") << "not a directory";
  const std::string dir = (scratch.path / "file" / "sub").string();
  CHECK_THROWS_WITH(dir_lock(dir, "checkpoint.dir"),
                    Catch::StartsWith("checkpoint.dir " + dir + ": cannot create the directory: "));
  CHECK_THROWS_AS(dir_lock("", "checkpoint.dir"), error);
}
