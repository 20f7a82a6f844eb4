#include "train/checkpoint_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "config/model_spec.hpp"
#include "tensor/optim/sgd.hpp"
#include "train/gradient_engine.hpp"

#include "reference_crc.hpp"
#include "train_test_util.hpp"

using namespace troupe;
namespace fs = std::filesystem;

namespace {

using troupe::test::reference_crc;

train::training_state state_at(std::uint64_t step, const std::string& model = "tiny") {
  train::training_state s;
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

std::vector<std::string> names_in(const train::checkpoint_store& store) {
  std::vector<std::string> names;
  for (const auto& p : store.list())
    names.push_back(fs::path(p).filename().string());
  return names;
}

std::size_t files_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

void damage(const std::string& path, bool truncate) {
  std::string b = read_file(path);
  if (truncate)
    b.resize(b.size() / 2);
  else
    b[b.size() / 2] ^= 0x01;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << b;
}

} // namespace

TEST_CASE("the store keeps the K newest checkpoints", "[train][checkpoint]") {
  test::scratch_dir dir("ckpt-store");
  const auto root = (dir.path / "run" / "ckpt").string(); // Created by the first save.
  train::checkpoint_store store(root, 3);
  CHECK(store.list().empty());
  CHECK_FALSE(store.load_latest("tiny", state_at(0).layout));
  for (std::uint64_t step : {10, 20, 30, 40, 1000000})
    CHECK(store.save(state_at(step)) == (fs::path(root) / train::checkpoint_store::file_name(step)).string());
  CHECK(names_in(store) ==
        std::vector<std::string>{"ckpt-000000000030.trpc", "ckpt-000000000040.trpc", "ckpt-000001000000.trpc"});
  CHECK(files_in(root) == 3); // Nothing else: no temporaries.
  const auto latest = store.load_latest("tiny", state_at(0).layout);
  REQUIRE(latest);
  CHECK(latest->state.global_step == 1000000);
  CHECK(latest->skipped.empty());
  REQUIRE_THROWS_WITH(train::checkpoint_store(root, 0), Catch::Contains("keep must be at least 1"));
}

TEST_CASE("a corrupt newest checkpoint is reported and the previous good one used", "[train][checkpoint]") {
  test::scratch_dir dir("ckpt-store");
  train::checkpoint_store store(dir.path.string(), 5);
  for (std::uint64_t step : {100, 200, 300})
    store.save(state_at(step));
  const auto newest = store.list().back();
  const bool truncate = GENERATE(true, false);
  damage(newest, truncate);

  auto loaded = store.load_latest("tiny", state_at(0).layout);
  REQUIRE(loaded);
  CHECK(loaded->state.global_step == 200);
  CHECK(loaded->path == store.list()[1]);
  REQUIRE(loaded->skipped.size() == 1);
  CHECK_THAT(loaded->skipped[0],
             Catch::StartsWith(newest + ": ") && Catch::Contains(truncate ? "truncated" : "checksum mismatch"));

  SECTION("saving after the resume replaces the abandoned later checkpoint") {
    store.save(state_at(250));
    CHECK(names_in(store) ==
          std::vector<std::string>{"ckpt-000000000100.trpc", "ckpt-000000000200.trpc", "ckpt-000000000250.trpc"});
    CHECK(store.load_latest("tiny", state_at(0).layout)->skipped.empty());
  }
  SECTION("with keep = 1 the resumed-from checkpoint is what remains until the next save") {
    train::checkpoint_store one(dir.path.string(), 1);
    one.save(state_at(210));
    CHECK(names_in(one) == std::vector<std::string>{"ckpt-000000000210.trpc"});
  }
  SECTION("when none is readable the store says so rather than starting afresh") {
    for (const auto& p : store.list())
      damage(p, true);
    REQUIRE_THROWS_WITH(store.load_latest("tiny", state_at(0).layout),
                        Catch::Contains("none of the 3 checkpoints is readable") && Catch::Contains(newest));
  }
}

TEST_CASE("a checkpoint of another model, layout or format version is refused", "[train][checkpoint]") {
  test::scratch_dir dir("ckpt-store");
  train::checkpoint_store store(dir.path.string(), 5);
  store.save(state_at(1)); // A good, matching checkpoint that must not be silently used instead.

  SECTION("another model name") {
    store.save(state_at(2, "fmnist-cnn"));
    REQUIRE_THROWS_WITH(store.load_latest("tiny", state_at(0).layout),
                        Catch::Contains("refusing") && Catch::Contains("'fmnist-cnn'") && Catch::Contains("'tiny'"));
  }
  SECTION("another layout") {
    auto other = state_at(2).layout;
    other.entries[0].shape = {4, 1};
    REQUIRE_THROWS_WITH(store.load_latest("tiny", other),
                        Catch::Contains("refusing") && Catch::Contains("[2, 2]") && Catch::Contains("[4, 1]"));
  }
  SECTION("another format version") {
    const auto path = (dir.path / train::checkpoint_store::file_name(2)).string();
    std::string b = train::encode_checkpoint(state_at(2));
    b[8] = 9;
    const std::uint32_t crc = reference_crc(b.substr(0, b.size() - 4)); // An intact file of version 9.
    std::memcpy(b.data() + b.size() - 4, &crc, 4);
    write_file_atomic(path, b);
    REQUIRE_THROWS_AS(store.load_latest("tiny", state_at(0).layout), train::checkpoint_version_error);
    REQUIRE_THROWS_WITH(store.load_latest("tiny", state_at(0).layout),
                        Catch::Contains(path) && Catch::Contains("version 9") && Catch::Contains("reads version 1"));
  }
}

TEST_CASE("save leaves no temporary of a writer killed mid-save", "[train][checkpoint]") {
  test::scratch_dir dir("ckpt-store");
  std::ofstream(dir.path / "ckpt-000000000005.trpc.tmp.12345") << "partial";
  std::ofstream(dir.path / "notes.txt") << "not ours";
  train::checkpoint_store store(dir.path.string(), 2);
  store.save(state_at(6));
  CHECK(fs::exists(dir.path / "notes.txt"));
  CHECK_FALSE(fs::exists(dir.path / "ckpt-000000000005.trpc.tmp.12345"));
  CHECK(files_in(dir.path) == 2);
}

// Run by hand: troupe_train_tests "[.bench]" -s. The stall a checkpoint costs the reference CNN.
TEST_CASE("save() time for the reference CNN", "[.bench]") {
  const auto spec = config::load_model_spec(test::reference_model());
  train::gradient_engine engine(spec, 1, 1);
  train::training_state s;
  s.model_name = spec.name;
  s.layout = engine.layout();
  s.params = engine.initial_parameters();
  optim::sgd opt(optim::sgd_options{0.9f});
  std::vector<float> grad(s.params.size(), 1e-3f);
  std::vector<optim::param_slot> slots;
  for (const auto& e : s.layout.entries)
    slots.push_back({e.name, s.params.data() + e.offset, grad.data() + e.offset, e.size});
  opt.step(slots, 0.01f);
  s.optimizer = opt.state();
  s.global_step = 1;
  test::scratch_dir dir("ckpt-bench");
  train::checkpoint_store store(dir.path.string(), 3);
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::vector<double> encode, save;
  for (int i = 0; i < 30; ++i) {
    s.global_step = static_cast<std::uint64_t>(i);
    auto t0 = clock::now();
    const auto encoded = train::encode_checkpoint(s);
    auto t1 = clock::now();
    store.save(s);
    auto t2 = clock::now();
    encode.push_back(ms(t1 - t0));
    save.push_back(ms(t2 - t1));
  }
  std::sort(encode.begin(), encode.end());
  std::sort(save.begin(), save.end());
  const auto bytes = fs::file_size(store.list().back());
  WARN(fmt::format("{} params + momentum, {} bytes, tmp dir {}: encode median {:.2f} ms; save() median {:.2f} ms, "
                   "p90 {:.2f} ms, max {:.2f} ms",
                   s.params.size(), bytes, dir.path.string(), encode[15], save[15], save[27], save.back()));
}
