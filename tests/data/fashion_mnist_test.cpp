#include "data/fashion_mnist.hpp"

#include <catch2/catch.hpp>

using namespace troupe::data;

TEST_CASE("fashion_mnist states the data set's shape, classes and statistics", "[data][fashion_mnist]") {
  CHECK(fashion_mnist::image_values == 784u);
  CHECK(fashion_mnist::channels * fashion_mnist::height * fashion_mnist::width == 784u);
  CHECK(fashion_mnist::num_classes == 10u);
  CHECK(fashion_mnist::mean == 0.2860f);
  CHECK(fashion_mnist::stddev == 0.3530f);
}

TEST_CASE("fashion_mnist::normalization standardises only when enabled", "[data][fashion_mnist]") {
  constexpr normalization on = fashion_mnist::normalization();
  CHECK(on.enabled);
  CHECK(on.mean == fashion_mnist::mean);
  CHECK(on.stddev == fashion_mnist::stddev);
  const normalization off = fashion_mnist::normalization(false);
  CHECK_FALSE(off.enabled);
  CHECK(off.mean == normalization{}.mean);
  CHECK(off.stddev == normalization{}.stddev);
}

TEST_CASE("fashion_mnist paths name the distributed gzip IDX files", "[data][fashion_mnist]") {
  CHECK(fashion_mnist::images_path("/d", true) == "/d/train-images-idx3-ubyte.gz");
  CHECK(fashion_mnist::labels_path("/d", true) == "/d/train-labels-idx1-ubyte.gz");
  CHECK(fashion_mnist::images_path("/d", false) == "/d/t10k-images-idx3-ubyte.gz");
  CHECK(fashion_mnist::labels_path("/d/", false) == "/d/t10k-labels-idx1-ubyte.gz");
}
