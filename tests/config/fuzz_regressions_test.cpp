// Regressions found by fuzz/fuzz_model_spec.cpp (docs/fuzzing.md): shape arithmetic in
// infer_shapes and num_outputs wrapped around 64 bits and accepted models with wrong shapes.
#include <catch2/catch.hpp>

#include <string>

#include "common/error.hpp"
#include "config/model_spec.hpp"

using Catch::Contains;
using Catch::StartsWith;
using troupe::config::infer_shapes;
using troupe::config::layer_spec;
using troupe::config::model_spec;
using troupe::config::num_outputs;
using troupe::config::parse_model_spec;

TEST_CASE("a conv2d padding that overflows the padded size is refused", "[config][model_spec][fuzz]") {
  // 2 * 2^63 wrapped to 0: the layer was accepted with the shapes of an unpadded convolution.
  const std::string yaml = "name: m\ninput: [1, 28, 28]\nlayers:\n"
                           "  - conv2d: {out_channels: 2, kernel: 3, padding: 9223372036854775808}\n"
                           "  - flatten\n  - dense: {units: 2}\n";
  REQUIRE_THROWS_AS(parse_model_spec(yaml, "m.yaml"), troupe::error);
  REQUIRE_THROWS_WITH(parse_model_spec(yaml, "m.yaml"),
                      StartsWith("m.yaml:4:5: layers[0].conv2d: ") &&
                          Contains("padding 9223372036854775808 is too large: the padded input [1, 28, 28] does not "
                                   "fit in 64 bits"));

  // The largest padding that still fits is not refused for overflow (it is just a huge output).
  const std::string fits = "name: m\ninput: [1, 1, 1]\nlayers:\n"
                           "  - conv2d: {out_channels: 1, kernel: 1, padding: 4611686018427387903}\nloss: mse\n";
  REQUIRE_THROWS_WITH(parse_model_spec(fits, "m.yaml"),
                      Contains("more elements than fit in 64 bits") && !Contains("padding"));
}

TEST_CASE("a layer output with more than 2^64 elements is refused where it appears", "[config][model_spec][fuzz]") {
  // 8 x 2^31 x 2^31 = 2^65 elements: num_outputs wrapped around to 0 for this model.
  const std::string yaml = "name: m\ninput: [1, 2147483648, 2147483648]\nlayers:\n"
                           "  - conv2d: {out_channels: 8, kernel: 1}\nloss: mse\n";
  REQUIRE_THROWS_WITH(parse_model_spec(yaml, "m.yaml"),
                      StartsWith("m.yaml:4:5: layers[0].conv2d: ") &&
                          Contains("output [8, 2147483648, 2147483648] has more elements than fit in 64 bits"));

  model_spec spec;
  spec.source = "hand.yaml";
  spec.input_shape = {1, 2147483648, 2147483648};
  layer_spec conv;
  conv.type = "conv2d";
  conv.out_channels = 8;
  conv.kernel = 1;
  spec.layers = {conv};
  REQUIRE_THROWS_WITH(num_outputs(spec),
                      StartsWith("hand.yaml: layers[0].conv2d: ") && Contains("more elements than fit in 64 bits"));

  // Four channels of 2^30 x 2^30 make 2^62 elements, which fit.
  spec.input_shape = {1, 1073741824, 1073741824};
  spec.layers[0].out_channels = 4;
  REQUIRE(num_outputs(spec) == (std::size_t{1} << 62));
}

TEST_CASE("an input shape with more than 2^64 elements is refused", "[config][model_spec][fuzz]") {
  model_spec spec;
  spec.source = "hand.yaml";
  spec.input_shape = {4294967296, 4294967296, 1};
  layer_spec relu;
  relu.type = "relu";
  spec.layers = {relu};
  REQUIRE_THROWS_WITH(
      infer_shapes(spec),
      StartsWith("hand.yaml: input: [4294967296, 4294967296, 1] has more elements than fit in 64 bits"));
}
