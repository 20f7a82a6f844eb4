#include "train/checkpoint.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "common/atomic_file.hpp"
#include "common/error.hpp"

#include "reference_crc.hpp"
#include "train_test_util.hpp"

using namespace troupe;

namespace {

using troupe::test::reference_crc;
using troupe::test::with_crc;

/// A state in which every field differs from its default, with floats whose bits are easy to lose.
train::training_state sample_state() {
  train::training_state s;
  s.model_name = "tiny";
  s.layout.entries = {{"0.weight", {2, 3}, 0, 6}, {"0.bias", {2}, 6, 2}};
  s.layout.total = 8;
  s.params = {1.5f,
              -0.0f,
              std::numeric_limits<float>::quiet_NaN(),
              std::numeric_limits<float>::denorm_min(),
              std::numeric_limits<float>::infinity(),
              3e38f,
              -1e-20f,
              0.1f};
  s.optimizer.kind = "sgd";
  s.optimizer.step = 7;
  s.optimizer.buffers["0.weight.momentum_buffer"] = {0.25f, -0.5f, 1, 2, 3, 4};
  s.optimizer.buffers["0.bias.momentum_buffer"] = {-0.0f, 1e-30f};
  s.global_step = 7;
  s.epoch = 2;
  s.trainer_clocks = {7, 6, std::numeric_limits<std::uint64_t>::max()};
  s.data_seed = 0xdeadbeefcafebabeULL;
  s.loader_cursors = {{2, 1}, {2, 0}};
  s.rng_states = {{1, 2, 3, std::numeric_limits<std::uint64_t>::max()}, {0x9e3779b97f4a7c15ULL, 0, 0, 42}};
  s.config_text = "name: tiny\n# caf\xe9 (latin-1, not UTF-8)\n";
  s.info_json = R"({"loss":0.5})";
  return s;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void put_u64(std::string& bytes, std::size_t at, std::uint64_t v) {
  std::memcpy(bytes.data() + at, &v, 8);
}

std::uint64_t get_u64(const std::string& bytes, std::size_t at) {
  std::uint64_t v;
  std::memcpy(&v, bytes.data() + at, 8);
  return v;
}

} // namespace

TEST_CASE("a checkpoint reads back bitwise identical", "[train][checkpoint]") {
  test::scratch_dir dir("checkpoint");
  const auto path = (dir.path / "c.trpc").string();
  const auto want = sample_state();
  train::write_checkpoint(path, want);
  const auto got = train::read_checkpoint(path);
  CHECK(got.model_name == want.model_name);
  REQUIRE(got.layout.entries.size() == 2);
  CHECK(got.layout.total == 8);
  CHECK(got.layout.entries[0].shape == tensor::shape_t{2, 3});
  CHECK(got.layout.entries[1].name == "0.bias");
  CHECK(got.layout.entries[1].offset == 6);
  CHECK(got.layout.entries[1].size == 2);
  CHECK(same_bits(got.params, want.params));
  CHECK(got.optimizer.kind == "sgd");
  CHECK(got.optimizer.step == 7);
  REQUIRE(got.optimizer.buffers.size() == 2);
  for (const auto& [name, values] : want.optimizer.buffers)
    CHECK(same_bits(got.optimizer.buffers.at(name), values));
  CHECK(got.global_step == 7);
  CHECK(got.epoch == 2);
  CHECK(got.trainer_clocks == want.trainer_clocks);
  CHECK(got.data_seed == want.data_seed);
  CHECK(got.loader_cursors == want.loader_cursors);
  CHECK(got.rng_states == want.rng_states);
  CHECK(got.config_text == want.config_text);
  CHECK(got.info_json == want.info_json);
  // Encoding is deterministic, and the atomic write leaves no temporary behind.
  CHECK(read_file(path) == train::encode_checkpoint(got));
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("an empty state round-trips", "[train][checkpoint]") {
  train::training_state s;
  s.optimizer.kind = "sgd";
  const auto got = train::decode_checkpoint(train::encode_checkpoint(s), "empty");
  CHECK(got.params.empty());
  CHECK(got.layout.entries.empty());
  CHECK(got.info_json == "{}");
}

TEST_CASE("damaged checkpoints are refused with the file and the problem named", "[train][checkpoint]") {
  test::scratch_dir dir("checkpoint");
  const std::string bytes = train::encode_checkpoint(sample_state());
  const auto bad = (dir.path / "bad.trpc").string();
  auto write = [&](const std::string& b) { std::ofstream(bad, std::ios::binary) << b; };
  const std::size_t header_len_at = 12;
  const std::size_t params_len_at = 20 + get_u64(bytes, header_len_at);
  const std::size_t opt_len_at = params_len_at + 8 + 8 * sizeof(float);

  SECTION("truncated") {
    write(bytes.substr(0, bytes.size() - 9));
    REQUIRE_THROWS_WITH(train::read_checkpoint(bad), Catch::Contains(bad) && Catch::Contains("truncated"));
  }
  SECTION("cut anywhere: always an error, never a crash") {
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      CAPTURE(n);
      REQUIRE_THROWS_AS(train::decode_checkpoint(bytes.substr(0, n), "cut"), error);
    }
  }
  SECTION("a flipped byte anywhere is caught, and never taken for another version") {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      CAPTURE(i);
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ 0x5a);
      try {
        train::decode_checkpoint(b, "flipped");
        FAIL("a damaged checkpoint was accepted");
      } catch (const train::checkpoint_version_error& e) {
        FAIL(e.what());
      } catch (const error& e) {
        CHECK_THAT(e.what(), Catch::StartsWith("flipped: "));
      }
    }
  }
  SECTION("a flipped byte in the parameters is a checksum mismatch") {
    std::string b = bytes;
    b[params_len_at + 8 + 5] ^= 0x10;
    write(b);
    REQUIRE_THROWS_WITH(train::read_checkpoint(bad), Catch::Contains(bad) && Catch::Contains("checksum mismatch"));
  }
  SECTION("wrong magic") {
    write("NOTACKPT" + bytes);
    REQUIRE_THROWS_WITH(train::read_checkpoint(bad), Catch::Contains(bad) && Catch::Contains("bad magic"));
  }
  SECTION("a model file is not a checkpoint") {
    std::string b = bytes;
    std::memcpy(b.data(), "TROUPEMD", 8);
    REQUIRE_THROWS_WITH(train::decode_checkpoint(b, "m"), Catch::Contains("not a Troupe checkpoint"));
  }
  SECTION("another format version, intact, names both versions") {
    std::string b = bytes;
    b[8] = 2;
    write(with_crc(b));
    REQUIRE_THROWS_AS(train::read_checkpoint(bad), train::checkpoint_version_error);
    REQUIRE_THROWS_WITH(train::read_checkpoint(bad),
                        Catch::Contains(bad) && Catch::Contains("version 2") && Catch::Contains("reads version 1"));
  }
  SECTION("absurd lengths are refused before anything is allocated") {
    std::string b = bytes;
    const std::size_t at = GENERATE_COPY(header_len_at, params_len_at, opt_len_at);
    const std::uint64_t v = GENERATE(std::uint64_t{1} << 40, std::uint64_t{1} << 62, ~std::uint64_t{0});
    CAPTURE(at, v);
    put_u64(b, at, v);
    REQUIRE_THROWS_WITH(train::decode_checkpoint(with_crc(b), "absurd"),
                        Catch::StartsWith("absurd: ") && (Catch::Contains("exceeds") || Catch::Contains("claims")));
  }
  SECTION("an absurd length inside the optimizer state") {
    std::string b = bytes;
    // Optimizer record: "TRPOPT", u32 version, u32 kind length, "sgd", u64 step, u64 buffer count.
    put_u64(b, opt_len_at + 8 + 6 + 4 + 4 + 3 + 8, std::uint64_t{1} << 60);
    REQUIRE_THROWS_WITH(train::decode_checkpoint(with_crc(b), "opt"),
                        Catch::StartsWith("opt: corrupt checkpoint: optimizer state"));
  }
  SECTION("a damaged header with a valid checksum") {
    std::string b = bytes;
    b[20] = '[';
    REQUIRE_THROWS_WITH(train::decode_checkpoint(with_crc(b), "hdr"), Catch::Contains("corrupt checkpoint header"));
  }
  SECTION("trailing bytes") {
    std::string b = bytes;
    b.insert(b.size() - 4, "xyz");
    REQUIRE_THROWS_WITH(train::decode_checkpoint(with_crc(b), "tail"), Catch::Contains("3 unexpected trailing bytes"));
  }
  SECTION("empty and missing files") {
    write("");
    REQUIRE_THROWS_WITH(train::read_checkpoint(bad), Catch::Contains("bad magic"));
    REQUIRE_THROWS_WITH(train::read_checkpoint((dir.path / "nope.trpc").string()), Catch::Contains("cannot open"));
  }
}

TEST_CASE("an inconsistent state is not written", "[train][checkpoint]") {
  test::scratch_dir dir("checkpoint");
  const auto path = (dir.path / "c.trpc").string();
  auto s = sample_state();
  SECTION("parameters vs layout") {
    s.params.pop_back();
    REQUIRE_THROWS_WITH(train::write_checkpoint(path, s), Catch::Contains("the parameters hold 7"));
  }
  SECTION("a layout with a gap") {
    s.layout.entries[1].offset = 7;
    REQUIRE_THROWS_WITH(train::write_checkpoint(path, s), Catch::Contains("'0.bias'") && Catch::Contains("offset 7"));
  }
  SECTION("an optimizer buffer of no parameter") {
    s.optimizer.buffers["1.weight.momentum_buffer"] = {1};
    REQUIRE_THROWS_WITH(train::write_checkpoint(path, s), Catch::Contains("'1.weight.momentum_buffer'"));
  }
  SECTION("an optimizer buffer of the wrong size") {
    s.optimizer.buffers["0.bias.momentum_buffer"].push_back(1);
    REQUIRE_THROWS_WITH(train::write_checkpoint(path, s), Catch::Contains("holds 3 floats"));
  }
  SECTION("info that is not JSON") {
    s.info_json = "{";
    REQUIRE_THROWS_WITH(train::write_checkpoint(path, s), Catch::Contains("cannot encode the header"));
  }
  CHECK_FALSE(std::filesystem::exists(path));
}
