// The bad-input table for data files (docs/bad-input.md): every malformed IDX file, raw or gzip, is
// rejected with an error that starts with the file's path, names the field or stream at fault and
// says what is wrong, and the files are left exactly as they were.

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "data/dataset.hpp"
#include "data/idx_reader.hpp"
#include "idx_files.hpp"
#include "tests/support/disk_snapshot.hpp"

namespace fs = std::filesystem;
using bytes_t = std::vector<std::uint8_t>;
using troupe::data::load_fashion_mnist;
using troupe::data::load_idx_dataset;
using troupe::data::read_idx;
using troupe::data::testing::idx_bytes;
using troupe::data::testing::pattern;
using troupe::data::testing::slurp;
using troupe::data::testing::temp_dir;
using troupe::data::testing::write_gz;
using troupe::data::testing::write_raw;

namespace {

// A valid image file (3 images of 4 x 4) and its label file.
const bytes_t images = idx_bytes(0x08, {3, 4, 4}, pattern(48));
const bytes_t labels = idx_bytes(0x08, {3}, {0, 1, 2});

bytes_t cut(bytes_t b, std::size_t n) {
  b.resize(n);
  return b;
}

bytes_t with(bytes_t b, std::size_t at, std::uint8_t value) {
  b.at(at) = value;
  return b;
}

bytes_t plus(bytes_t b, const bytes_t& tail) {
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

/// Writes `b` to dir/name, gzip-compressed when the name ends in ".gz"; returns the path.
std::string put(const temp_dir& dir, const std::string& name, const bytes_t& b) {
  const std::string path = dir.file(name);
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0)
    write_gz(path, b);
  else
    write_raw(path, b);
  return path;
}

/// The gzip bytes of `b`, as write_gz makes them, to damage the compressed stream itself.
bytes_t gzip_of(const bytes_t& b) {
  temp_dir scratch;
  return slurp(put(scratch, "x.gz", b));
}

/// Requires `load` to throw troupe::error starting with `path` and containing `problem`, with no file touched.
void require_rejected(const temp_dir& dir, const std::string& path, const std::function<void()>& load,
                      const std::string& problem) {
  const fs::path root = fs::path(dir.file("x")).parent_path();
  const auto before = troupe::test::disk_snapshot(root);
  std::string message;
  try {
    load();
  } catch (const troupe::error& e) {
    message = e.what();
  }
  INFO("message: " << message);
  REQUIRE_FALSE(message.empty());
  CHECK_THAT(message, Catch::StartsWith(path + ": ") && Catch::Contains(problem));
  CHECK(troupe::test::disk_snapshot(root) == before);
}

/// A defect of one IDX file, the same whether the file is raw or compressed.
struct idx_row {
  const char* name;
  bytes_t contents; ///< the (uncompressed) bytes of the file
  const char* problem;
};

/// A file whose gzip stream itself is damaged: written as is, named *.gz.
struct gzip_row {
  const char* name;
  bytes_t file;
  const char* problem;
};

} // namespace

TEST_CASE("bad input table: malformed IDX files, raw and gzip", "[data][bad_input]") {
  const std::vector<idx_row> rows = {
      {"an empty file", {}, "empty file, expected an IDX header"},
      {"wrong magic", with(images, 0, 0x42), "bad IDX magic: the first two bytes must be 00 00, got 42 00"},
      {"a text file", {'h', 'e', 'l', 'l', 'o', '\n'}, "bad IDX magic"},
      {"magic cut short", cut(images, 3), "truncated IDX header: expected 4 bytes of magic number, got 3"},
      {"dimensions cut short", cut(images, 9), "truncated IDX header: expected 12 bytes of dimensions, got 5"},
      {"data cut short", cut(images, 16 + 40),
       "truncated IDX data: expected 48 bytes of data (dims 3 x 4 x 4), got 40"},
      {"bytes after the data", plus(images, {1, 2, 3}), "trailing bytes after IDX data: 3 extra bytes"},
      {"float32 elements", with(images, 2, 0x0D), "unsupported element type 0x0d (float32): only 0x08"},
      {"int32 elements", with(images, 2, 0x0C), "unsupported element type 0x0c (int32)"},
      {"a type byte that is no IDX type", with(images, 2, 0x07), "invalid IDX element type 0x07"},
      {"rank 0", with(images, 3, 0), "invalid IDX rank 0: expected 1 to 4"},
      {"rank 9", with(images, 3, 9), "invalid IDX rank 9: expected 1 to 4"},
      {"a zero dimension", idx_bytes(0x08, {3, 0, 4}, {}), "invalid IDX header: dimension 1 is zero"},
      {"dimensions asking for more than 2 GiB", idx_bytes(0x08, {65536, 65536}, {}),
       "IDX data too large: dims 65536 x 65536"},
  };
  for (const auto& r : rows)
    for (const char* name : {"x.idx", "x.idx.gz"}) {
      DYNAMIC_SECTION(r.name << " (" << name << ")") {
        temp_dir dir;
        const std::string path = put(dir, name, r.contents);
        require_rejected(
            dir, path, [&] { read_idx(path); }, r.problem);
      }
    }
}

TEST_CASE("bad input table: corrupt gzip streams", "[data][bad_input]") {
  const bytes_t gz = gzip_of(images);
  const std::size_t n = gz.size();
  const std::vector<gzip_row> rows = {
      // Byte 10 starts the deflate data: BTYPE 11 is a reserved block type.
      {"an invalid deflate block", with(gz, 10, 0xff), "corrupt gzip stream: invalid block type"},
      {"a wrong CRC-32 in the trailer", with(gz, n - 8, static_cast<std::uint8_t>(gz[n - 8] ^ 0xff)),
       "corrupt gzip stream: incorrect data check"},
      {"a wrong length in the trailer", with(gz, n - 4, static_cast<std::uint8_t>(gz[n - 4] ^ 0xff)),
       "corrupt gzip stream: incorrect length check"},
      {"a compression method other than deflate", with(gz, 2, 7), "corrupt gzip stream: unknown compression method"},
      {"the stream cut in half", cut(gz, n / 2), "truncated gzip stream"},
      {"the trailer cut off", cut(gz, n - 8), "truncated gzip stream"},
      {"garbage after the stream", plus(gz, {'j', 'u', 'n', 'k'}),
       "corrupt gzip stream: unexpected data after the end of the gzip stream"},
      {"a .gz name on a raw file", images,
       "not a gzip file: the name ends in .gz but the file does not start with "
       "the gzip magic 1f 8b"},
  };
  for (const auto& r : rows) {
    DYNAMIC_SECTION(r.name) {
      temp_dir dir;
      const std::string path = dir.file("x.idx.gz");
      write_raw(path, r.file);
      require_rejected(
          dir, path, [&] { read_idx(path); }, r.problem);
    }
  }
}

TEST_CASE("bad input table: image and label files that do not belong together", "[data][bad_input]") {
  const std::string ext = GENERATE(std::string(""), std::string(".gz"));
  temp_dir dir;
  const std::string img = put(dir, "images.idx" + ext, images);

  SECTION("fewer labels than images" + ext) {
    const std::string lab = put(dir, "labels.idx" + ext, idx_bytes(0x08, {2}, {0, 1}));
    // The message starts with the labels file and names both.
    require_rejected(
        dir, lab, [&] { load_idx_dataset(img, lab); },
        "label count mismatch: " + img + " has 3 images but " + lab + " has 2 labels");
  }
  SECTION("a label of no class" + ext) {
    const std::string lab = put(dir, "labels.idx" + ext, idx_bytes(0x08, {3}, {0, 10, 2}));
    require_rejected(
        dir, lab, [&] { load_idx_dataset(img, lab); }, "label 10 at index 1 is out of range: expected 0 to 9");
  }
  SECTION("labels given as the images" + ext) {
    const std::string lab = put(dir, "labels.idx" + ext, labels);
    require_rejected(
        dir, lab, [&] { load_idx_dataset(lab, lab); },
        "expected rank-3 IDX images (n x height x width), got rank 1 (dims 3)");
  }
  SECTION("images given as the labels" + ext) {
    require_rejected(
        dir, img, [&] { load_idx_dataset(img, img); }, "expected rank-1 IDX labels (n), got rank 3 (dims 3 x 4 x 4)");
  }
  SECTION("a labels file that does not exist" + ext) {
    const std::string lab = dir.file("labels.idx" + ext);
    require_rejected(
        dir, lab, [&] { load_idx_dataset(img, lab); }, "cannot open file: No such file or directory");
  }
  SECTION("a directory for the images" + ext) {
    const std::string sub = dir.file("sub" + ext);
    fs::create_directories(sub);
    require_rejected(
        dir, sub, [&] { load_idx_dataset(sub, img); }, "is a directory, not a file");
  }
}

TEST_CASE("bad input table: a Fashion-MNIST directory that is missing or incomplete", "[data][bad_input]") {
  temp_dir dir;
  const std::string root = fs::path(dir.file("x")).parent_path().string();
  SECTION("no such directory") {
    const std::string missing = dir.file("nowhere");
    require_rejected(
        dir, missing, [&] { load_fashion_mnist(missing, true); },
        "Fashion-MNIST directory not found; install the data set with `apt-get install "
        "dataset-fashion-mnist`");
  }
  SECTION("the labels file missing") {
    put(dir, "t10k-images-idx3-ubyte.gz", images);
    require_rejected(
        dir, dir.file("t10k-labels-idx1-ubyte.gz"), [&] { load_fashion_mnist(root, false); },
        "Fashion-MNIST file not found");
  }
  SECTION("a damaged images file") {
    write_raw(dir.file("t10k-images-idx3-ubyte.gz"), cut(gzip_of(images), 20));
    put(dir, "t10k-labels-idx1-ubyte.gz", labels);
    require_rejected(
        dir, dir.file("t10k-images-idx3-ubyte.gz"), [&] { load_fashion_mnist(root, false); }, "truncated gzip stream");
  }
}
