// The bad-input table for checkpoints (docs/bad-input.md): a damaged newest checkpoint is reported
// with its path and what is wrong and the store falls back to the previous good one; one that would
// be wrong to resume from (another format version, model or layout) is refused. Either way every
// file in the checkpoint directory is left as it was. The messages come from read_checkpoint
// (checkpoint_test.cpp) and checkpoint_store::load_latest (checkpoint_store_test.cpp).

#include <catch2/catch.hpp>

#include "reference_crc.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "tests/support/disk_snapshot.hpp"
#include "tests/support/test_env.hpp"
#include "train/checkpoint.hpp"
#include "train/checkpoint_store.hpp"

namespace fs = std::filesystem;
using troupe::train::checkpoint_store;
using troupe::train::training_state;

namespace {

using troupe::test::reference_crc;
using troupe::test::with_crc;

training_state state_at(std::uint64_t step, const std::string& model = "tiny") {
  training_state s;
  s.model_name = model;
  s.layout.entries = {{"0.weight", {2, 2}, 0, 4}, {"0.bias", {2}, 4, 2}};
  s.layout.total = 6;
  s.params = std::vector<float>(6, static_cast<float>(step));
  s.optimizer.kind = "sgd";
  s.optimizer.step = step;
  s.global_step = step;
  s.trainer_clocks = {step, step};
  return s;
}

std::string flip(std::string b, std::size_t at) {
  b.at(at) = static_cast<char>(b.at(at) ^ 0x5a);
  return b;
}

void put_u32(std::string& b, std::size_t at, std::uint32_t v) {
  std::memcpy(b.data() + at, &v, 4);
}
void put_u64(std::string& b, std::size_t at, std::uint64_t v) {
  std::memcpy(b.data() + at, &v, 8);
}

std::uint64_t get_u64(const std::string& b, std::size_t at) {
  std::uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}

/// What load_latest must do with the damaged newest checkpoint.
enum class outcome {
  fall_back, ///< skip it (reported in `skipped`) and resume from the previous good one
  refuse,    ///< throw: resuming from it would be wrong, starting afresh would drop the run
};

/// One row: the newest checkpoint's bytes, made from the good ones, and what the error says.
struct row {
  const char* name;
  std::function<std::string(const std::string&)> damage;
  outcome then;
  const char* problem;
};

} // namespace

TEST_CASE("bad input table: damaged and foreign checkpoints", "[train][checkpoint][bad_input]") {
  const std::string good = troupe::train::encode_checkpoint(state_at(200));
  const std::size_t params_len_at = 20 + get_u64(good, 12); // magic 8 + version 4 + header length 8 + header
  const std::vector<row> rows = {
      {"truncated", [](const std::string& b) { return b.substr(0, b.size() / 2); }, outcome::fall_back,
       "truncated or corrupt checkpoint: header claims"},
      {"truncated below the smallest checkpoint", [](const std::string& b) { return b.substr(0, 20); },
       outcome::fall_back, "truncated checkpoint (20 bytes, the smallest is 48)"},
      {"empty", [](const std::string&) { return std::string(); }, outcome::fall_back,
       "not a Troupe checkpoint (bad magic)"},
      {"bad magic", [](const std::string& b) { return "TROUPEXX" + b.substr(8); }, outcome::fall_back,
       "not a Troupe checkpoint (bad magic)"},
      {"a saved model in its place", [](const std::string& b) { return "TROUPEMD" + b.substr(8); }, outcome::fall_back,
       "not a Troupe checkpoint (bad magic)"},
      {"another format version, intact",
       [](std::string b) {
         put_u32(b, 8, 9);
         return with_crc(b);
       },
       outcome::refuse, "checkpoint format version 9 is not supported (this build reads version 1)"},
      {"a damaged format version field",
       [](std::string b) {
         put_u32(b, 8, 9);
         return b;
       },
       outcome::fall_back,
       "corrupt checkpoint: format version field reads 9 (this build reads version 1) and the "
       "checksum does not match"},
      {"a CRC mismatch (a flipped parameter byte)",
       [&](const std::string& b) { return flip(b, params_len_at + 8 + 5); }, outcome::fall_back,
       "corrupt checkpoint: checksum mismatch (stored "},
      {"a CRC mismatch (a flipped trailer byte)", [](const std::string& b) { return flip(b, b.size() - 1); },
       outcome::fall_back, "corrupt checkpoint: checksum mismatch"},
      {"an absurd header length",
       [](std::string b) {
         put_u64(b, 12, std::uint64_t{1} << 62);
         return with_crc(b);
       },
       outcome::fall_back, "corrupt checkpoint: header length 4611686018427387904 exceeds"},
      {"an absurd parameter count",
       [&](std::string b) {
         put_u64(b, params_len_at, std::uint64_t{1} << 40);
         return with_crc(b);
       },
       outcome::fall_back, "truncated or corrupt checkpoint: parameters claims 1099511627776 x 4 bytes at offset"},
      {"a header that is not JSON",
       [](std::string b) {
         b[20] = '[';
         return with_crc(b);
       },
       outcome::fall_back, "corrupt checkpoint header: "},
      {"bytes after the last section",
       [](std::string b) {
         b.insert(b.size() - 4, "xyz");
         return with_crc(b);
       },
       outcome::fall_back, "corrupt checkpoint: 3 unexpected trailing bytes"},
      {"another model's checkpoint",
       [](const std::string&) { return troupe::train::encode_checkpoint(state_at(200, "fmnist-cnn")); },
       outcome::refuse, "it is a checkpoint of model 'fmnist-cnn', but this run trains model 'tiny'"},
      {"another layout of the same model",
       [](const std::string&) {
         auto s = state_at(200);
         s.layout.entries[0].shape = {4, 1};
         return troupe::train::encode_checkpoint(s);
       },
       outcome::refuse, "its parameters do not match this run's model 'tiny'"},
  };

  for (const auto& r : rows) {
    DYNAMIC_SECTION(r.name) {
      troupe::test::scratch_dir scratch("bad-ckpt");
      const std::string dir = (scratch.path / "checkpoints").string();
      checkpoint_store store(dir, 5);
      const std::string older = store.save(state_at(100));
      const std::string newest = store.save(state_at(200));
      REQUIRE(troupe::read_file(newest) == good);
      troupe::write_file_atomic(newest, r.damage(good));
      const auto before = troupe::test::disk_snapshot(scratch.path);

      if (r.then == outcome::fall_back) {
        // read_checkpoint names the file and the defect...
        REQUIRE_THROWS_WITH(troupe::train::read_checkpoint(newest),
                            Catch::StartsWith(newest + ": ") && Catch::Contains(r.problem));
        // ...and the store reports it and resumes from the previous good checkpoint.
        const auto loaded = store.load_latest("tiny", state_at(0).layout);
        REQUIRE(loaded);
        CHECK(loaded->path == older);
        CHECK(loaded->state.global_step == 100);
        REQUIRE(loaded->skipped.size() == 1);
        CHECK_THAT(loaded->skipped[0], Catch::StartsWith(newest + ": ") && Catch::Contains(r.problem));
      } else {
        REQUIRE_THROWS_AS(store.load_latest("tiny", state_at(0).layout), troupe::error);
        REQUIRE_THROWS_WITH(store.load_latest("tiny", state_at(0).layout),
                            Catch::StartsWith("refusing to resume from " + newest + ": ") &&
                                Catch::Contains(r.problem));
      }
      // Neither the damaged file nor the good one was removed, rewritten or joined by another.
      CHECK(troupe::test::disk_snapshot(scratch.path) == before);
    }
  }
}

TEST_CASE("bad input table: a checkpoint directory with nothing to resume from", "[train][checkpoint][bad_input]") {
  troupe::test::scratch_dir scratch("bad-ckpt");
  const std::string dir = (scratch.path / "checkpoints").string();

  SECTION("every checkpoint unreadable") {
    checkpoint_store store(dir, 5);
    const std::string a = store.save(state_at(100));
    const std::string b = store.save(state_at(200));
    troupe::write_file_atomic(a, troupe::read_file(a).substr(0, 30));
    troupe::write_file_atomic(b, flip(troupe::read_file(b), 40));
    const auto before = troupe::test::disk_snapshot(scratch.path);
    REQUIRE_THROWS_WITH(store.load_latest("tiny", state_at(0).layout),
                        Catch::StartsWith(dir + ": none of the 2 checkpoints is readable:") &&
                            Catch::Contains("\n  " + b + ": corrupt checkpoint: checksum mismatch") &&
                            Catch::Contains("\n  " + a + ": truncated checkpoint (30 bytes"));
    CHECK(troupe::test::disk_snapshot(scratch.path) == before);
  }
  SECTION("a file where the directory should be") {
    fs::create_directories(scratch.path);
    troupe::write_file_atomic(dir, "not a directory");
    const auto before = troupe::test::disk_snapshot(scratch.path);
    checkpoint_store store(dir, 5);
    REQUIRE_THROWS_WITH(store.load_latest("tiny", state_at(0).layout),
                        Catch::StartsWith(dir + ": cannot list the checkpoint directory: Not a directory"));
    CHECK(troupe::test::disk_snapshot(scratch.path) == before);
  }
  SECTION("a missing checkpoint file") {
    REQUIRE_THROWS_WITH(troupe::train::read_checkpoint(dir + "/ckpt-000000000100.trpc"),
                        Catch::StartsWith(dir + "/ckpt-000000000100.trpc: ") && Catch::Contains("cannot open"));
    CHECK_FALSE(fs::exists(dir));
  }
}
