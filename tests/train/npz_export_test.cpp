#include "train/npz_export.hpp"

#include <cstring>
#include <filesystem>
#include <map>

#include "common/atomic_file.hpp"
#include "common/error.hpp"

#include "reference_crc.hpp"
#include "train_test_util.hpp"

using namespace troupe;

namespace {

using troupe::test::reference_crc;

nn::param_layout sample_layout() {
  nn::param_layout l;
  l.entries = {
      {"0.weight", {2, 3}, 0, 6}, {"0.bias", {2}, 6, 2}, {"3.scale", {}, 8, 1}, {"4.weight", {1, 2, 1, 2}, 9, 4}};
  l.total = 13;
  return l;
}

const std::vector<float> sample_params = {1, 2, 3, 4, 5, 6, -1.5f, -0.0f, 3.25f, 1e-3f, 7e5f, -2, 0.1f};

/// Little-endian reads with bounds checks, so a malformed archive fails the test instead of crashing it.
struct bytes_at {
  const std::string& b;
  std::uint64_t get(std::size_t at, int n) const {
    REQUIRE(at + static_cast<std::size_t>(n) <= b.size());
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
      v |= std::uint64_t{static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)])} << (8 * i);
    return v;
  }
  std::string str(std::size_t at, std::size_t n) const {
    REQUIRE(at + n <= b.size());
    return b.substr(at, n);
  }
};

/// The stored entries of a ZIP archive by name, checking the structure the APPNOTE prescribes.
std::map<std::string, std::string> unzip_stored(const std::string& zip) {
  const bytes_at z{zip};
  REQUIRE(zip.size() >= 22);
  const std::size_t end = zip.size() - 22; // No archive comment: the end record closes the file.
  REQUIRE(z.get(end, 4) == 0x06054b50);
  const auto count = z.get(end + 10, 2);
  REQUIRE(z.get(end + 8, 2) == count);
  const auto dir_size = z.get(end + 12, 4), dir_offset = z.get(end + 16, 4);
  REQUIRE(dir_offset + dir_size == end);
  std::map<std::string, std::string> entries;
  std::size_t at = dir_offset;
  for (std::uint64_t i = 0; i < count; ++i) {
    REQUIRE(z.get(at, 4) == 0x02014b50);
    REQUIRE(z.get(at + 10, 2) == 0); // stored
    const auto crc = z.get(at + 16, 4), csize = z.get(at + 20, 4), usize = z.get(at + 24, 4);
    const auto name_len = z.get(at + 28, 2), extra_len = z.get(at + 30, 2), comment_len = z.get(at + 32, 2);
    const auto local = z.get(at + 42, 4);
    const std::string name = z.str(at + 46, name_len);
    CAPTURE(name);
    REQUIRE(csize == usize);
    // The local header repeats name, method, CRC and sizes; the data follows it.
    REQUIRE(z.get(local, 4) == 0x04034b50);
    REQUIRE(z.get(local + 8, 2) == 0);
    REQUIRE(z.get(local + 14, 4) == crc);
    REQUIRE(z.get(local + 18, 4) == csize);
    REQUIRE(z.get(local + 22, 4) == usize);
    REQUIRE(z.str(local + 30, z.get(local + 26, 2)) == name);
    const std::string data = z.str(local + 30 + name_len + z.get(local + 28, 2), usize);
    REQUIRE(reference_crc(data.data(), data.size()) == crc);
    REQUIRE(entries.emplace(name, data).second);
    at += 46 + name_len + extra_len + comment_len;
  }
  REQUIRE(at == end);
  return entries;
}

} // namespace

TEST_CASE("export_npz writes one NPY 1.0 float32 array per parameter in a valid ZIP", "[train][npz]") {
  test::scratch_dir dir("npz");
  const auto path = (dir.path / "model.npz").string();
  const auto layout = sample_layout();
  train::export_npz(path, layout, sample_params.data());
  const std::string zip = read_file(path);
  const auto entries = unzip_stored(zip);
  REQUIRE(entries.size() == layout.entries.size());

  const std::map<std::string, std::string> shapes = {
      {"0.weight", "(2, 3)"}, {"0.bias", "(2,)"}, {"3.scale", "()"}, {"4.weight", "(1, 2, 1, 2)"}};
  for (const auto& e : layout.entries) {
    CAPTURE(e.name);
    const std::string& npy = entries.at(e.name + ".npy");
    const bytes_at n{npy};
    REQUIRE(n.str(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
    const auto header_len = n.get(8, 2);
    CHECK((10 + header_len) % 64 == 0);
    const std::string header = n.str(10, header_len);
    CHECK(header.back() == '\n');
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapes.at(e.name) + ", }";
    CHECK(header.substr(0, dict.size()) == dict);
    CHECK(header.find_first_not_of(' ', dict.size()) == header.size() - 1);
    REQUIRE(npy.size() == 10 + header_len + e.size * sizeof(float));
    CHECK(std::memcmp(npy.data() + 10 + header_len, sample_params.data() + e.offset, e.size * sizeof(float)) == 0);
  }
  // Deterministic bytes (fixed timestamps), and no temporary left behind.
  const auto again = (dir.path / "again.npz").string();
  train::export_npz(again, layout, sample_params.data());
  CHECK(read_file(again) == zip);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 2);
}

TEST_CASE("export_npz writes an empty archive for a model without parameters", "[train][npz]") {
  test::scratch_dir dir("npz");
  const auto path = (dir.path / "empty.npz").string();
  train::export_npz(path, nn::param_layout{}, nullptr);
  CHECK(unzip_stored(read_file(path)).empty());
}

TEST_CASE("export_npz refuses layouts it cannot name or place", "[train][npz]") {
  test::scratch_dir dir("npz");
  const auto path = (dir.path / "bad.npz").string();
  auto layout = sample_layout();
  SECTION("a repeated name") {
    layout.entries[1].name = "0.weight";
    REQUIRE_THROWS_WITH(train::export_npz(path, layout, sample_params.data()), Catch::Contains("appears twice"));
  }
  SECTION("a name that is a path") {
    layout.entries[0].name = "../evil";
    REQUIRE_THROWS_WITH(train::export_npz(path, layout, sample_params.data()),
                        Catch::Contains("'../evil' cannot name an archive entry"));
  }
  SECTION("a parameter beyond the buffer") {
    layout.entries[3].offset = 10;
    REQUIRE_THROWS_WITH(train::export_npz(path, layout, sample_params.data()),
                        Catch::Contains("'4.weight'") && Catch::Contains("does not fit"));
  }
  SECTION("no values") {
    REQUIRE_THROWS_WITH(train::export_npz(path, layout, nullptr), Catch::Contains("no parameter values"));
  }
  CHECK_FALSE(std::filesystem::exists(path));
}
