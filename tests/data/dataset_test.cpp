#include "data/dataset.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include <catch2/catch.hpp>

#include "data/idx_reader.hpp"
#include "idx_files.hpp"

using Catch::Contains;
using namespace troupe::data;
using namespace troupe::data::testing;

namespace {

/// Three 2x2 images and their labels, written as a gzip image file and a raw label file.
struct tiny_files {
  temp_dir dir;
  std::string images = dir.file("images-idx3-ubyte.gz");
  std::string labels = dir.file("labels-idx1-ubyte");

  explicit tiny_files(std::vector<std::uint8_t> label_bytes = {3, 0, 9},
                      std::vector<std::uint32_t> image_dims = {3, 2, 2}) {
    std::size_t count = 1;
    for (const auto d : image_dims)
      count *= d;
    std::vector<std::uint8_t> pixels(count);
    for (std::size_t i = 0; i < count; ++i)
      pixels[i] = static_cast<std::uint8_t>(i * 51 % 256); // 0, 51, 102, 153, 204, 255, 50, ...
    write_gz(images, idx_bytes(idx_type_ubyte, image_dims, pixels));
    const auto n = static_cast<std::uint32_t>(label_bytes.size());
    write_raw(labels, idx_bytes(idx_type_ubyte, {n}, label_bytes));
  }
};

} // namespace

TEST_CASE("load_idx_dataset scales pixels to the unit interval in NCHW order", "[data][dataset]") {
  tiny_files files;
  const dataset ds = load_idx_dataset(files.images, files.labels);
  CHECK(ds.n == 3);
  CHECK(ds.channels == 1);
  CHECK(ds.height == 2);
  CHECK(ds.width == 2);
  CHECK(ds.num_classes == 10);
  CHECK(ds.image_size() == 4);
  REQUIRE(ds.images.size() == 12);
  for (std::size_t i = 0; i < 12; ++i)
    CHECK(ds.images[i] == Approx(static_cast<float>(i * 51 % 256) / 255.f));
  CHECK(ds.labels == std::vector<std::int32_t>{3, 0, 9});
}

TEST_CASE("load_idx_dataset standardises pixels when normalization is enabled", "[data][dataset]") {
  tiny_files files;
  normalization norm;
  norm.enabled = true;
  norm.mean = 0.5f;
  norm.stddev = 0.25f;
  const dataset ds = load_idx_dataset(files.images, files.labels, norm);
  CHECK(ds.images[0] == Approx(-2.0f));                 // (0 - 0.5) / 0.25
  CHECK(ds.images[5] == Approx(2.0f));                  // (1 - 0.5) / 0.25
  CHECK(ds.images[1] == Approx((0.2f - 0.5f) / 0.25f)); // 51 / 255 = 0.2
}

TEST_CASE("load_idx_dataset keeps only the first max_samples samples", "[data][dataset]") {
  tiny_files files;
  const dataset all = load_idx_dataset(files.images, files.labels);
  SECTION("fewer than available") {
    const dataset two = load_idx_dataset(files.images, files.labels, {}, 2);
    CHECK(two.n == 2);
    CHECK(two.labels == std::vector<std::int32_t>{3, 0});
    CHECK(two.images == std::vector<float>(all.images.begin(), all.images.begin() + 8));
  }
  SECTION("more than available") {
    const dataset more = load_idx_dataset(files.images, files.labels, {}, 100);
    CHECK(more.n == 3);
    CHECK(more.images == all.images);
  }
}

TEST_CASE("load_idx_dataset rejects a label count mismatch", "[data][dataset]") {
  tiny_files files({1, 2});
  REQUIRE_DATA_ERROR(load_idx_dataset(files.images, files.labels), Contains("label count mismatch") &&
                                                                       Contains(files.images + " has 3 images") &&
                                                                       Contains(files.labels + " has 2 labels"));
}

TEST_CASE("load_idx_dataset rejects labels of a class it does not know", "[data][dataset]") {
  SECTION("default 10 classes") {
    tiny_files files({1, 10, 2});
    REQUIRE_DATA_ERROR(load_idx_dataset(files.images, files.labels),
                       Contains(files.labels) && Contains("label 10 at index 1 is out of range"));
  }
  SECTION("fewer classes") {
    tiny_files files({1, 0, 3});
    REQUIRE_DATA_ERROR(load_idx_dataset(files.images, files.labels, {}, 0, 3),
                       Contains(files.labels) && Contains("label 3 at index 2 is out of range"));
  }
}

TEST_CASE("load_idx_dataset rejects files of the wrong rank", "[data][dataset]") {
  SECTION("flat images") {
    tiny_files files({1, 2, 3}, {3, 4});
    REQUIRE_DATA_ERROR(load_idx_dataset(files.images, files.labels),
                       Contains(files.images) && Contains("expected rank-3 IDX images") && Contains("got rank 2"));
  }
  SECTION("labels that are not a vector") {
    tiny_files files;
    write_raw(files.labels, idx_bytes(idx_type_ubyte, {3, 1}, {1, 2, 3}));
    REQUIRE_DATA_ERROR(load_idx_dataset(files.images, files.labels),
                       Contains(files.labels) && Contains("expected rank-1 IDX labels"));
  }
  SECTION("images and labels swapped") {
    tiny_files files;
    REQUIRE_DATA_ERROR(load_idx_dataset(files.labels, files.images),
                       Contains(files.labels) && Contains("expected rank-3 IDX images"));
  }
}

TEST_CASE("load_idx_dataset passes on errors of the IDX files", "[data][dataset]") {
  tiny_files files;
  const std::string missing = files.dir.file("missing-labels");
  REQUIRE_DATA_ERROR(load_idx_dataset(files.images, missing), Contains(missing) && Contains("cannot open file"));
}

TEST_CASE("load_idx_dataset rejects invalid arguments", "[data][dataset]") {
  tiny_files files;
  SECTION("no classes") {
    REQUIRE_DATA_ERROR(load_idx_dataset(files.images, files.labels, {}, 0, 0), Contains("num_classes"));
  }
  SECTION("zero standard deviation") {
    normalization norm;
    norm.enabled = true;
    norm.stddev = 0.f;
    REQUIRE_DATA_ERROR(load_idx_dataset(files.images, files.labels, norm), Contains("positive finite stddev"));
  }
}

TEST_CASE("dataset::image points at sample i", "[data][dataset]") {
  tiny_files files;
  const dataset ds = load_idx_dataset(files.images, files.labels);
  CHECK(ds.image(0) == ds.images.data());
  CHECK(ds.image(2) == ds.images.data() + 8);
  REQUIRE_DATA_ERROR(ds.image(3), Contains("index 3 is out of range for 3 samples"));
}

TEST_CASE("gather_batch copies samples and labels in index order", "[data][dataset]") {
  tiny_files files;
  const dataset ds = load_idx_dataset(files.images, files.labels);
  const std::vector<std::size_t> idx{2, 0, 2};
  std::vector<float> images(idx.size() * ds.image_size(), -1.f);
  std::vector<std::int32_t> labels(idx.size(), -1);
  gather_batch(ds, idx.data(), idx.size(), images.data(), labels.data());
  CHECK(labels == std::vector<std::int32_t>{9, 3, 9});
  for (std::size_t b = 0; b < idx.size(); ++b)
    CHECK(std::equal(images.begin() + static_cast<std::ptrdiff_t>(b * 4),
                     images.begin() + static_cast<std::ptrdiff_t>(b * 4 + 4), ds.image(idx[b])));
}

TEST_CASE("gather_batch rejects an index out of range before writing", "[data][dataset]") {
  tiny_files files;
  const dataset ds = load_idx_dataset(files.images, files.labels);
  const std::vector<std::size_t> idx{1, 3};
  std::vector<float> images(8, -1.f);
  std::vector<std::int32_t> labels(2, -1);
  REQUIRE_DATA_ERROR(gather_batch(ds, idx.data(), idx.size(), images.data(), labels.data()),
                     Contains("index 3 at batch position 1 is out of range") && Contains("3 samples"));
  CHECK(labels == std::vector<std::int32_t>{-1, -1});
}

TEST_CASE("load_fashion_mnist names what is missing and how to install it", "[data][fashion_mnist]") {
  temp_dir dir;
  SECTION("missing directory") {
    const std::string missing = dir.file("nowhere");
    REQUIRE_DATA_ERROR(load_fashion_mnist(missing, true), Contains(missing) && Contains("directory not found") &&
                                                              Contains("apt-get install dataset-fashion-mnist"));
  }
  SECTION("missing file") {
    REQUIRE_DATA_ERROR(load_fashion_mnist(dir.file(""), false), Contains("t10k-images-idx3-ubyte.gz") &&
                                                                    Contains("file not found") &&
                                                                    Contains("apt-get install dataset-fashion-mnist"));
  }
}

TEST_CASE("load_fashion_mnist loads the real t10k split", "[data][fashion_mnist]") {
  if (!std::filesystem::is_directory(fashion_mnist::default_dir))
    FAIL("Fashion-MNIST is a required test dependency and is missing from "
         << fashion_mnist::default_dir << "; run `apt-get install dataset-fashion-mnist`");
  const dataset ds = load_fashion_mnist(fashion_mnist::default_dir, false);
  CHECK(ds.n == 10000);
  CHECK(ds.channels == 1);
  CHECK(ds.height == 28);
  CHECK(ds.width == 28);
  CHECK(ds.num_classes == 10);
  REQUIRE(ds.images.size() == 10000u * 28 * 28);
  REQUIRE(ds.labels.size() == 10000u);
  const auto [lo, hi] = std::minmax_element(ds.images.begin(), ds.images.end());
  CHECK(*lo == 0.f);
  CHECK(*hi == 1.f);
  CHECK(std::all_of(ds.labels.begin(), ds.labels.end(), [](auto l) { return l >= 0 && l < 10; }));
  CHECK(std::set<std::int32_t>(ds.labels.begin(), ds.labels.end()).size() == 10);

  const dataset head = load_fashion_mnist(fashion_mnist::default_dir, false, {}, 100);
  CHECK(head.n == 100);
  CHECK(head.labels == std::vector<std::int32_t>(ds.labels.begin(), ds.labels.begin() + 100));
  CHECK(head.images == std::vector<float>(ds.images.begin(), ds.images.begin() + 100 * 784));
}
