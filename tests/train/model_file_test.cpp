#include "train/model_file.hpp"

#include <filesystem>
#include <fstream>

#include "common/atomic_file.hpp"
#include "common/error.hpp"

#include "train_test_util.hpp"

using namespace troupe;

namespace {

train::saved_model sample_model() {
  train::saved_model m;
  m.model_name = "tiny";
  m.layout.entries = {{"0.weight", {2, 3}, 0, 6}, {"0.bias", {2}, 6, 2}};
  m.layout.total = 8;
  m.params = {1, 2, 3, 4, 5, 6, -1, -2};
  m.info_json = R"({"epoch":3})";
  return m;
}

} // namespace

TEST_CASE("a saved model loads back exactly", "[train][model_file]") {
  test::scratch_dir dir("model-file");
  const auto path = (dir.path / "m.trpm").string();
  train::save_model(path, sample_model());
  const auto m = train::load_model(path);
  REQUIRE(m.model_name == "tiny");
  REQUIRE(m.params == sample_model().params);
  REQUIRE(m.layout.entries.size() == 2);
  REQUIRE(m.layout.entries[1].name == "0.bias");
  REQUIRE(m.layout.entries[1].offset == 6);
  REQUIRE(m.info_json == R"({"epoch":3})");
  // The atomic write leaves no temporary file behind.
  REQUIRE(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("damaged model files are refused with the file and the problem named", "[train][model_file]") {
  test::scratch_dir dir("model-file");
  const auto good = (dir.path / "good.trpm").string();
  train::save_model(good, sample_model());
  const std::string bytes = read_file(good);
  const auto bad = (dir.path / "bad.trpm").string();
  auto write = [&](const std::string& b) { std::ofstream(bad, std::ios::binary) << b; };

  SECTION("truncated") {
    write(bytes.substr(0, bytes.size() - 9));
    REQUIRE_THROWS_WITH(train::load_model(bad), Catch::Contains(bad) && Catch::Contains("truncated"));
  }
  SECTION("a flipped bit in the data") {
    std::string b = bytes;
    b[b.size() - 8] ^= 0x10;
    write(b);
    REQUIRE_THROWS_WITH(train::load_model(bad), Catch::Contains("checksum mismatch"));
  }
  SECTION("wrong magic") {
    write("NOTAMODEL" + bytes);
    REQUIRE_THROWS_WITH(train::load_model(bad), Catch::Contains("not a Troupe model file"));
  }
  SECTION("another format version names both versions") {
    std::string b = bytes;
    b[8] = 7;
    write(b);
    REQUIRE_THROWS_WITH(train::load_model(bad),
                        Catch::Contains("version 7 is not supported") && Catch::Contains("reads version 1"));
  }
  SECTION("an absurd header length does not allocate") {
    std::string b = bytes;
    b[12 + 7] = 0x7f;
    write(b);
    REQUIRE_THROWS_WITH(train::load_model(bad), Catch::Contains("header length"));
  }
  SECTION("empty and missing files") {
    write("");
    REQUIRE_THROWS_WITH(train::load_model(bad), Catch::Contains("bad magic"));
    REQUIRE_THROWS_WITH(train::load_model((dir.path / "nope.trpm").string()), Catch::Contains("cannot open"));
  }
  // The good file is untouched by all of this.
  REQUIRE(train::load_model(good).params == sample_model().params);
}
