// Write failures of checkpoints and other atomically written files: each is a troupe::error naming
// the path and strerror(errno), the previous file stays as it was and no temporary is left behind.
// A full disk is a tiny tmpfs (mounting needs root: without it those cases report
// TROUPE_TEST_SKIPPED and CTest counts them as skipped); a failed rename and a missing directory need no privileges.

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "train/checkpoint_store.hpp"

#include "tests/support/tiny_tmpfs.hpp"
#include "train_test_util.hpp"

using namespace troupe;
using test::tiny_tmpfs;
namespace fs = std::filesystem;

namespace {

/// A small consistent training state whose checkpoint holds `floats` parameters.
train::training_state state_at(std::uint64_t step, std::size_t floats = 6) {
  train::training_state s;
  s.model_name = "tiny";
  s.layout.entries = {{"0.weight", {floats}, 0, floats}};
  s.layout.total = floats;
  s.params = std::vector<float>(floats, static_cast<float>(step));
  s.optimizer.kind = "sgd";
  s.optimizer.step = step;
  s.global_step = step;
  s.trainer_clocks = {step};
  return s;
}

/// The names in `dir`, sorted.
std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// The file_write_error `f` throws (the test fails if it throws nothing or something else).
template <typename F>
file_write_error write_error_of(F f) {
  try {
    f();
  } catch (const file_write_error& e) {
    return e;
  }
  FAIL("expected a file_write_error");
  throw; // Not reached: FAIL throws.
}

} // namespace

TEST_CASE("a write to a full file system keeps the previous file and leaves no temporary",
          "[train][checkpoint][write_failure]") {
  test::scratch_dir scratch("write-failure");
  tiny_tmpfs disk(scratch.path / "disk", "64k");
  if (!disk.usable())
    return;
  const fs::path dir = scratch.path / "disk";

  SECTION("write_file_atomic") {
    const std::string path = (dir / "model_latest.trpm").string();
    write_file_atomic(path, "the good one");
    const file_write_error e = write_error_of([&] { write_file_atomic(path, std::string(256 * 1024, 'x')); });
    CHECK(e.code() == ENOSPC);
    CHECK(e.path() == path);
    CHECK_THAT(std::string(e.what()), Catch::StartsWith(path + ": not written: writing " + path + ".tmp.") &&
                                          Catch::Contains(std::strerror(ENOSPC)) &&
                                          Catch::Contains("the previous file (if any) is unchanged"));
    CHECK(read_file(path) == "the good one");
    CHECK(names_in(dir) == std::vector<std::string>{"model_latest.trpm"});
    // The space came back with the temporary: the next write that fits succeeds.
    write_file_atomic(path, "a better one");
    CHECK(read_file(path) == "a better one");
  }

  SECTION("checkpoint_store::save") {
    train::checkpoint_store store((dir / "ckpt").string(), 3);
    store.save(state_at(10));
    const std::string good = store.save(state_at(20));
    const std::string good_bytes = read_file(good);
    const std::string failing = (dir / "ckpt" / train::checkpoint_store::file_name(30)).string();
    const file_write_error e = write_error_of([&] { store.save(state_at(30, 64 * 1024)); });
    CHECK(e.code() == ENOSPC);
    CHECK_THAT(std::string(e.what()),
               Catch::StartsWith(failing + ": not written: ") && Catch::Contains(std::strerror(ENOSPC)));
    CHECK(names_in(dir / "ckpt") ==
          std::vector<std::string>{train::checkpoint_store::file_name(10), train::checkpoint_store::file_name(20)});
    CHECK(read_file(good) == good_bytes);
    const auto latest = store.load_latest("tiny", state_at(0).layout);
    REQUIRE(latest);
    CHECK(latest->state.global_step == 20);
    CHECK(latest->skipped.empty());
    // Training goes on: a later checkpoint that fits is saved.
    CHECK(store.save(state_at(40)) == (dir / "ckpt" / train::checkpoint_store::file_name(40)).string());
  }
}

TEST_CASE("a write to a read-only file system names the path and EROFS", "[train][checkpoint][write_failure]") {
  test::scratch_dir scratch("write-failure");
  tiny_tmpfs disk(scratch.path / "disk", "64k");
  if (!disk.usable())
    return;
  const fs::path dir = scratch.path / "disk";
  train::checkpoint_store store((dir / "ckpt").string(), 3);
  const std::string good = store.save(state_at(10));
  const std::string good_bytes = read_file(good);
  disk.make_read_only();
  const file_write_error e = write_error_of([&] { store.save(state_at(20)); });
  CHECK(e.code() == EROFS);
  CHECK_THAT(std::string(e.what()), Catch::StartsWith((dir / "ckpt" / train::checkpoint_store::file_name(20)).string() +
                                                      ": not written: creating the temporary file ") &&
                                        Catch::Contains(std::strerror(EROFS)));
  CHECK(read_file(good) == good_bytes);
  CHECK(names_in(dir / "ckpt") == std::vector<std::string>{train::checkpoint_store::file_name(10)});
}

TEST_CASE("a failed rename keeps what is at the path and removes the temporary", "[train][checkpoint][write_failure]") {
  test::scratch_dir scratch("write-failure");
  // A non-empty directory where the file should go: rename(2) fails with EISDIR, also for root.
  const fs::path target = scratch.path / "model_best.trpm";
  fs::create_directories(target / "inside");
  const file_write_error e = write_error_of([&] { write_file_atomic(target.string(), "bytes"); });
  CHECK(e.code() == EISDIR);
  CHECK_THAT(std::string(e.what()),
             Catch::StartsWith(target.string() + ": not written: renaming " + target.string() + ".tmp.") &&
                 Catch::Contains(" over it: " + std::string(std::strerror(EISDIR))));
  CHECK(names_in(scratch.path) == std::vector<std::string>{"model_best.trpm"});
  CHECK(fs::is_directory(target / "inside"));
}

TEST_CASE("a write into a missing directory names the path and ENOENT", "[train][checkpoint][write_failure]") {
  test::scratch_dir scratch("write-failure");
  const std::string path = (scratch.path / "gone" / "model_final.npz").string();
  const file_write_error e = write_error_of([&] { write_file_atomic(path, "bytes"); });
  CHECK(e.code() == ENOENT);
  CHECK_THAT(std::string(e.what()), Catch::StartsWith(path + ": not written: creating the temporary file ") &&
                                        Catch::Contains(std::strerror(ENOENT)));
  CHECK(names_in(scratch.path).empty());
}

TEST_CASE("concurrent atomic writes to one path use distinct temporaries", "[train][checkpoint][write_failure]") {
  test::scratch_dir scratch("write-failure");
  const std::string path = (scratch.path / "model_latest.trpm").string();
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i)
        write_file_atomic(path, std::string(1000, static_cast<char>('a' + t)));
    });
  for (auto& w : writers)
    w.join();
  const std::string last = read_file(path);
  CHECK(last.size() == 1000);
  CHECK(last == std::string(1000, last[0])); // One whole write, never a mix.
  CHECK(names_in(scratch.path) == std::vector<std::string>{"model_latest.trpm"});
}
