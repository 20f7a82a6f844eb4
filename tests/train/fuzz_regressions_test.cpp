// Regressions found by fuzz/fuzz_checkpoint.cpp (docs/fuzzing.md): checkpoint headers whose
// parameter shapes wrapped around 64 bits, or held negative numbers, were accepted.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "common/crc32.hpp"
#include "common/error.hpp"
#include "train/checkpoint.hpp"

using namespace troupe;
using Catch::Contains;
using Catch::StartsWith;

namespace {

/// A checkpoint of an empty model whose JSON header lists `parameters_json`, with a valid CRC.
std::string checkpoint_with_parameters(const std::string& parameters_json) {
  train::training_state s;
  s.model_name = "m";
  s.optimizer.kind = "sgd";
  const std::string file = train::encode_checkpoint(s);
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, file.data() + 12, 8);
  std::string header = file.substr(20, header_len);
  const std::string empty = "\"parameters\":[]";
  const auto at = header.find(empty);
  REQUIRE(at != std::string::npos);
  header.replace(at, empty.size(), "\"parameters\":" + parameters_json);

  std::string out = file.substr(0, 12);
  const std::uint64_t new_len = header.size();
  out.append(reinterpret_cast<const char*>(&new_len), 8);
  out += header;
  out += file.substr(20 + header_len);
  const std::uint32_t crc = crc32_of(out.data(), out.size() - 4);
  std::memcpy(out.data() + out.size() - 4, &crc, 4);
  return out;
}

} // namespace

TEST_CASE("checkpoint parameter shapes are checked before their sizes are trusted", "[train][checkpoint][fuzz]") {
  SECTION("a shape with zero elements is fine (the helper makes readable files)") {
    const auto s =
        train::decode_checkpoint(checkpoint_with_parameters(R"([{"name":"w","shape":[3,0],"offset":0}])"), "f.ckpt");
    REQUIRE(s.layout.entries.size() == 1);
    CHECK(s.layout.entries[0].shape == tensor::shape_t{3, 0});
    CHECK(s.layout.total == 0);
  }
  SECTION("an element count that wraps around 64 bits to 0 is refused") {
    const auto bytes = checkpoint_with_parameters(R"([{"name":"w","shape":[4294967296,4294967296],"offset":0}])");
    REQUIRE_THROWS_AS(train::decode_checkpoint(bytes, "f.ckpt"), error);
    REQUIRE_THROWS_WITH(train::decode_checkpoint(bytes, "f.ckpt"),
                        StartsWith("f.ckpt: corrupt checkpoint header: ") &&
                            Contains("parameter 'w' of shape [4294967296, 4294967296] has more elements than fit in "
                                     "64 bits"));
  }
  SECTION("parameter sizes whose sum wraps around 64 bits are refused") {
    const auto bytes =
        checkpoint_with_parameters(R"([{"name":"a","shape":[9223372036854775808],"offset":0},)"
                                   R"({"name":"b","shape":[9223372036854775808],"offset":9223372036854775808}])");
    REQUIRE_THROWS_WITH(train::decode_checkpoint(bytes, "f.ckpt"),
                        StartsWith("f.ckpt: corrupt checkpoint header: ") &&
                            Contains("the parameters up to 'b' have more elements in total than fit in 64 bits"));
  }
  SECTION("a negative dimension is refused, not read as 2^64 - 1") {
    const auto bytes = checkpoint_with_parameters(R"([{"name":"w","shape":[0,-1],"offset":0}])");
    REQUIRE_THROWS_WITH(train::decode_checkpoint(bytes, "f.ckpt"),
                        StartsWith("f.ckpt: corrupt checkpoint header: ") &&
                            Contains("a shape dimension must be a non-negative integer, found -1"));
  }
  SECTION("a negative offset or a shape that is no array is refused") {
    REQUIRE_THROWS_WITH(
        train::decode_checkpoint(checkpoint_with_parameters(R"([{"name":"w","shape":[0],"offset":-1}])"), "f.ckpt"),
        Contains("a parameter offset must be a non-negative integer, found -1"));
    REQUIRE_THROWS_WITH(
        train::decode_checkpoint(checkpoint_with_parameters(R"([{"name":"w","shape":{"a":1},"offset":0}])"), "f.ckpt"),
        Contains("the shape of parameter 'w' must be an array, found {\"a\":1}"));
  }
}
