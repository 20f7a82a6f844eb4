#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "common/error.hpp"
#include "config/model_spec.hpp"

#include "example_path.hpp"

using Catch::Contains;
using Catch::StartsWith;
using troupe::config::infer_shapes;
using troupe::config::layer_spec;
using troupe::config::load_model_spec;
using troupe::config::model_spec;
using troupe::config::num_outputs;
using troupe::config::parse_model_spec;

using shape_list = std::vector<std::vector<std::size_t>>;

namespace {

/// A malformed model file and what its error must say: "<where>: <path>: ...<problem>...".
struct bad_model {
  const char* name;
  const char* yaml;
  const char* where;
  const char* path;
  const char* problem;
};

/// Every row must throw troupe::error starting "bad.yaml:L:C: path: " and mentioning the problem.
void check_rejected(const std::vector<bad_model>& rows) {
  for (const auto& row : rows) {
    DYNAMIC_SECTION(row.name) {
      const std::string prefix = std::string(row.where) + ": " + row.path + ": ";
      REQUIRE_THROWS_AS(parse_model_spec(row.yaml, "bad.yaml"), troupe::error);
      REQUIRE_THROWS_WITH(parse_model_spec(row.yaml, "bad.yaml"), StartsWith(prefix) && Contains(row.problem));
    }
  }
}

} // namespace

TEST_CASE("the shipped fmnist_cnn.yaml parses into the reference CNN", "[config][model_spec]") {
  const std::string path = troupe_test::example("models/fmnist_cnn.yaml");
  const model_spec spec = load_model_spec(path);

  CHECK(spec.name == "fmnist-cnn");
  CHECK(spec.source == path);
  CHECK(spec.input_shape == std::vector<std::size_t>{1, 28, 28});
  CHECK(spec.loss == "softmax_cross_entropy");
  REQUIRE(spec.layers.size() == 10);
  CHECK(spec.layers[0].type == "conv2d");
  CHECK(spec.layers[0].out_channels == 32);
  CHECK(spec.layers[0].kernel == 3);
  CHECK(spec.layers[2].type == "maxpool2d");
  CHECK(spec.layers[2].stride == 2);
  CHECK(spec.layers[9].units == 10);
  CHECK_THAT(spec.layers[0].where, StartsWith(path + ":") && Contains(":5"));
  CHECK(infer_shapes(spec) == shape_list{{32, 26, 26},
                                         {32, 26, 26},
                                         {32, 13, 13},
                                         {64, 11, 11},
                                         {64, 11, 11},
                                         {64, 5, 5},
                                         {1600},
                                         {128},
                                         {128},
                                         {10}});
  CHECK(num_outputs(spec) == 10);
}

TEST_CASE("the shipped fmnist_cnn_bn.yaml is the reference CNN with batch norm after each pooling",
          "[config][model_spec]") {
  const model_spec bn = load_model_spec(troupe_test::example("models/fmnist_cnn_bn.yaml"));
  const model_spec ref = load_model_spec(troupe_test::example("models/fmnist_cnn.yaml"));
  CHECK(bn.name == "fmnist-cnn-bn");
  CHECK(bn.loss == "softmax_cross_entropy");
  CHECK(bn.label_smoothing == Approx(0.1));
  // The reference CNN's layers in order, with a batchnorm2d inserted after each maxpool2d.
  std::vector<std::string> expected;
  for (const auto& l : ref.layers) {
    expected.push_back(l.type);
    if (l.type == "maxpool2d")
      expected.push_back("batchnorm2d");
  }
  std::vector<std::string> got;
  for (const auto& l : bn.layers)
    got.push_back(l.type);
  CHECK(got == expected);
  CHECK(infer_shapes(bn) == shape_list{{32, 26, 26},
                                       {32, 26, 26},
                                       {32, 13, 13},
                                       {32, 13, 13},
                                       {64, 11, 11},
                                       {64, 11, 11},
                                       {64, 5, 5},
                                       {64, 5, 5},
                                       {1600},
                                       {128},
                                       {128},
                                       {10}});
}

TEST_CASE("layer options take their defaults when absent", "[config][model_spec]") {
  const model_spec spec = parse_model_spec(R"(name: m
input: [3, 8, 8]
layers:
  - conv2d: {out_channels: 4, kernel: 3}
  - maxpool2d: {kernel: 3}
  - dropout
  - flatten
  - dense: {units: 2}
)",
                                           "m.yaml");
  CHECK(spec.loss == "softmax_cross_entropy");
  CHECK(spec.source == "m.yaml");
  const layer_spec& conv = spec.layers[0];
  CHECK(conv.stride == 1);
  CHECK(conv.padding == 0);
  CHECK(conv.init.empty());
  CHECK(conv.bias);
  CHECK(conv.where == "m.yaml:4:5");
  CHECK(spec.layers[1].stride == 3); // PyTorch: maxpool stride defaults to its kernel
  CHECK(spec.layers[2].p == 0.5f);
  CHECK(spec.layers[4].bias);
}

TEST_CASE("layer options are read when given", "[config][model_spec]") {
  const model_spec spec = parse_model_spec(R"(name: m
input: [16]
layers:
  - dense:
      units: 8
      init: glorot_normal
      bias: false
  - dropout: {p: 0.25}
  - tanh
  - dense: {units: 1, init: kaiming_normal}
  - sigmoid
loss: mse
)",
                                           "m.yaml");
  REQUIRE(spec.layers.size() == 5);
  CHECK(spec.layers[0].units == 8);
  CHECK(spec.layers[0].init == "glorot_normal");
  CHECK_FALSE(spec.layers[0].bias);
  CHECK(spec.layers[1].p == 0.25f);
  CHECK(spec.layers[3].init == "kaiming_normal");
  CHECK(spec.loss == "mse");
  CHECK(infer_shapes(spec) == shape_list{{8}, {8}, {8}, {1}, {1}});
  CHECK(num_outputs(spec) == 1);
}

TEST_CASE("infer_shapes follows PyTorch's conv2d and max-pool formulas", "[config][model_spec]") {
  // Expected values were checked against torch 1.13 nn.Conv2d / nn.MaxPool2d.
  const model_spec spec = parse_model_spec(R"(name: m
input: [3, 10, 9]
layers:
  - conv2d: {out_channels: 5, kernel: 4, stride: 3, padding: 2}
  - conv2d: {out_channels: 6, kernel: 3, stride: 2, padding: 1}
  - maxpool2d: {kernel: 2, stride: 1}
  - flatten
  - dense: {units: 3}
)",
                                           "m.yaml");
  // (10+4-4)/3+1 = 4, (9+4-4)/3+1 = 4; (4+2-3)/2+1 = 2; (2-2)/1+1 = 1
  CHECK(infer_shapes(spec) == shape_list{{5, 4, 4}, {6, 2, 2}, {6, 1, 1}, {6}, {3}});

  model_spec pool;
  pool.input_shape = {3, 5, 7};
  pool.layers.push_back(layer_spec{});
  pool.layers[0].type = "maxpool2d";
  pool.layers[0].kernel = 2;
  pool.layers[0].stride = 2;
  CHECK(infer_shapes(pool) == shape_list{{3, 2, 3}}); // floor mode drops the ragged edge
}

TEST_CASE("infer_shapes rejects impossible shapes in hand-built specs, naming the layer", "[config][model_spec]") {
  model_spec spec;
  spec.input_shape = {1, 4, 4};
  layer_spec dense;
  dense.type = "dense";
  dense.units = 3;
  spec.layers = {dense};
  REQUIRE_THROWS_WITH(infer_shapes(spec), StartsWith("layers[0].dense: ") && Contains("insert a flatten layer"));

  layer_spec conv;
  conv.type = "conv2d";
  conv.out_channels = 2;
  conv.kernel = 3;
  spec.input_shape = {10};
  spec.layers = {conv};
  spec.source = "hand.yaml";
  REQUIRE_THROWS_WITH(infer_shapes(spec), StartsWith("hand.yaml: layers[0].conv2d: needs a rank-3 input"));

  conv.stride = 0;
  spec.input_shape = {1, 4, 4};
  spec.layers = {conv};
  REQUIRE_THROWS_WITH(infer_shapes(spec), Contains("stride must be positive"));

  spec.input_shape = {1, 4};
  REQUIRE_THROWS_WITH(infer_shapes(spec), StartsWith("hand.yaml: input: expected rank 3"));
}

TEST_CASE("load_model_spec cites the file it read", "[config][model_spec]") {
  const auto path = std::filesystem::temp_directory_path() / "troupe_model_spec_test.yaml";
  {
    std::ofstream out(path);
    out << "name: m\ninput: [4]\nlayers:\n  - dense: {units: 0}\n";
  }
  REQUIRE_THROWS_WITH(load_model_spec(path.string()),
                      StartsWith(path.string() + ":4:20: layers[0].dense.units: expected a positive integer, got '0'"));
  std::filesystem::remove(path);
  REQUIRE_THROWS_WITH(load_model_spec(path.string()), StartsWith(path.string() + ": cannot open"));
}

TEST_CASE("malformed documents are rejected with position, key path and problem", "[config][model_spec]") {
  check_rejected({
      {"syntax error", "name: m\ninput: [1, 2\nlayers:\n  - relu\n", "bad.yaml:3:7", "YAML syntax error",
       "end of sequence flow not found"},
      {"extra top-level key", "name: m\ninput: [4]\nlayers: [relu]\noptimizer: sgd\n", "bad.yaml:4:1", "optimizer",
       "unknown key 'optimizer'; allowed keys: name, input, layers, loss"},
      {"misspelt top-level key", "name: m\ninput: [4]\nlayer:\n  - relu\n", "bad.yaml:3:1", "layer",
       "unknown key 'layer' (did you mean 'layers'?)"},
      {"missing layers", "name: m\ninput: [4]\n", "bad.yaml:1:1", "layers", "missing required key 'layers'"},
      {"empty layers", "name: m\ninput: [4]\nlayers: []\n", "bad.yaml:3:9", "layers",
       "expected at least one layer, got an empty list"},
      {"empty layers value", "name: m\ninput: [4]\nlayers:\n", "bad.yaml:3:1", "layers", "expected at least one layer"},
      {"input of rank 2", "name: m\ninput: [28, 28]\nlayers: [relu]\n", "bad.yaml:2:8", "input",
       "expected [channels, height, width] or [features], got 2 values [28, 28]"},
      {"zero input dimension", "name: m\ninput: [1, 0, 28]\nlayers: [relu]\n", "bad.yaml:2:12", "input[1]",
       "expected a positive integer, got '0'"},
  });
}

TEST_CASE("malformed layer entries are rejected with position, key path and problem", "[config][model_spec]") {
  check_rejected({
      {"unknown layer type", "name: m\ninput: [4]\nlayers:\n  - relu\n  - conv3d: {kernel: 3}\n", "bad.yaml:5:5",
       "layers[1]", "unknown layer type 'conv3d' (did you mean 'conv2d'?); expected one of: conv2d, maxpool2d"},
      {"unknown bare layer type", "name: m\ninput: [4]\nlayers:\n  - softmax\n", "bad.yaml:4:5", "layers[0]",
       "unknown layer type 'softmax'"},
      {"bare layer that needs options", "name: m\ninput: [4]\nlayers:\n  - dense\n", "bad.yaml:4:5", "layers[0]",
       "dense needs options; write '- dense: {units: ...}'"},
      {"options not indented under the type",
       "name: m\ninput: [1, 8, 8]\nlayers:\n  - conv2d:\n    out_channels: 3\n    kernel: 3\n", "bad.yaml:4:5",
       "layers[0]", "got 3 keys (conv2d, out_channels, kernel); indent the options under 'conv2d:'"},
      {"options given as a scalar", "name: m\ninput: [4]\nlayers:\n  - dropout: 0.3\n", "bad.yaml:4:14",
       "layers[0].dropout", "expected the options as a mapping like 'dropout: {p: ...}', got '0.3'"},
  });
}

TEST_CASE("malformed layer options are rejected with position, key path and problem", "[config][model_spec]") {
  check_rejected({
      {"unknown option key", "name: m\ninput: [1, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernal: 3}\n",
       "bad.yaml:4:31", "layers[0].conv2d.kernal",
       "unknown key 'kernal' (did you mean 'kernel'?); "
       "allowed keys: out_channels, kernel, stride, padding, init, bias"},
      {"missing required key", "name: m\ninput: [1, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4}\n", "bad.yaml:4:13",
       "layers[0].conv2d.kernel", "missing required key 'kernel'"},
      {"kernel is not a number", "name: m\ninput: [1, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel: abc}\n",
       "bad.yaml:4:39", "layers[0].conv2d.kernel", "expected a positive integer, got 'abc'"},
      {"negative kernel", "name: m\ninput: [1, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel: -3}\n",
       "bad.yaml:4:39", "layers[0].conv2d.kernel", "expected a positive integer, got '-3'"},
      {"negative padding",
       "name: m\ninput: [1, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel: 3, padding: -1}\n", "bad.yaml:4:51",
       "layers[0].conv2d.padding", "expected a non-negative integer, got '-1'"},
      {"dropout p of 1", "name: m\ninput: [4]\nlayers:\n  - dropout: {p: 1}\n", "bad.yaml:4:18", "layers[0].dropout.p",
       "expected a number in [0, 1), got '1'"},
      {"dropout p negative", "name: m\ninput: [4]\nlayers:\n  - dropout: {p: -0.1}\n", "bad.yaml:4:18",
       "layers[0].dropout.p", "expected a number in [0, 1), got '-0.1'"},
      {"unknown initializer", "name: m\ninput: [4]\nlayers:\n  - dense: {units: 10, init: glorot_uniorm}\n",
       "bad.yaml:4:30", "layers[0].dense.init", "unknown initializer 'glorot_uniorm' (did you mean 'glorot_uniform'?)"},
      {"bias not a boolean", "name: m\ninput: [4]\nlayers:\n  - dense: {units: 10, bias: maybe}\n", "bad.yaml:4:30",
       "layers[0].dense.bias", "expected a boolean (true or false), got 'maybe'"},
      {"option on a layer without options", "name: m\ninput: [4]\nlayers:\n  - relu: {inplace: true}\n",
       "bad.yaml:4:12", "layers[0].relu.inplace", "unknown key 'inplace'; this mapping takes no keys"},
  });
}

TEST_CASE("models with impossible shapes are rejected at the offending layer", "[config][model_spec]") {
  check_rejected({
      {"kernel larger than input",
       "name: m\ninput: [1, 4, 4]\nlayers:\n  - relu\n  - conv2d: {out_channels: 4, kernel: 5}\n", "bad.yaml:5:5",
       "layers[1].conv2d", "kernel 5 is larger than the input [1, 4, 4]"},
      {"pool kernel larger than input",
       "name: m\ninput: [1, 6, 6]\nlayers:\n  - conv2d: {out_channels: 2, kernel: 3}\n  - maxpool2d: {kernel: 5}\n",
       "bad.yaml:5:5", "layers[1].maxpool2d", "kernel 5 is larger than the input [2, 4, 4]"},
      {"dense without flatten",
       "name: m\ninput: [1, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel: 3}\n  - dense: {units: 10}\n",
       "bad.yaml:5:5", "layers[1].dense", "needs a rank-1 input [features], got [4, 6, 6]; insert a flatten layer"},
      {"conv2d after flatten",
       "name: m\ninput: [1, 8, 8]\nlayers:\n  - flatten\n  - conv2d: {out_channels: 4, kernel: 3}\n", "bad.yaml:5:5",
       "layers[1].conv2d", "needs a rank-3 input [channels, height, width], got [64]"},
  });
}

TEST_CASE("an unknown or unusable loss is rejected", "[config][model_spec]") {
  check_rejected({
      {"bad loss", "name: m\ninput: [4]\nlayers:\n  - dense: {units: 10}\nloss: cross_entropy\n", "bad.yaml:5:7",
       "loss", "unknown loss 'cross_entropy'; expected one of: softmax_cross_entropy, mse"},
      {"misspelt loss", "name: m\ninput: [4]\nlayers:\n  - dense: {units: 10}\nloss: msee\n", "bad.yaml:5:7", "loss",
       "unknown loss 'msee' (did you mean 'mse'?)"},
      {"softmax over a feature map",
       "name: m\ninput: [1, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel: 3}\nloss: softmax_cross_entropy\n",
       "bad.yaml:5:7", "loss", "needs a rank-1 output of at least 2 class scores, but the model ends with [4, 6, 6]"},
      {"default softmax over one output", "name: m\ninput: [4]\nlayers:\n  - dense: {units: 1}\n", "bad.yaml:4:5",
       "layers[0].dense", "loss softmax_cross_entropy needs a rank-1 output of at least 2 class scores"},
      {"label smoothing of 1",
       "name: m\ninput: [4]\nlayers:\n  - dense: {units: 10}\nloss: {kind: softmax_cross_entropy, label_smoothing: "
       "1}\n",
       "bad.yaml:5:54", "loss.label_smoothing", "got '1'"},
      {"label smoothing of mse",
       "name: m\ninput: [4]\nlayers:\n  - dense: {units: 1}\nloss: {kind: mse, label_smoothing: 0.1}\n",
       "bad.yaml:5:36", "loss.label_smoothing", "label smoothing applies to softmax_cross_entropy, not to mse"},
      {"an unknown key of the loss",
       "name: m\ninput: [4]\nlayers:\n  - dense: {units: 10}\nloss: {kind: softmax_cross_entropy, smoothing: 0.1}\n",
       "bad.yaml:5:37", "loss.smoothing", "label_smoothing"},
  });
}

TEST_CASE("the loss may be a mapping with label smoothing", "[config][model_spec]") {
  const model_spec plain = parse_model_spec("name: m\ninput: [4]\nlayers:\n  - dense: {units: 10}\n", "m.yaml");
  CHECK(plain.label_smoothing == 0.0f);
  const model_spec smooth = parse_model_spec("name: m\ninput: [4]\nlayers:\n  - dense: {units: 10}\nloss: {kind: "
                                             "softmax_cross_entropy, label_smoothing: 0.1}\n",
                                             "m.yaml");
  CHECK(smooth.loss == "softmax_cross_entropy");
  CHECK(smooth.label_smoothing == 0.1f);
  CHECK(parse_model_spec("name: m\ninput: [4]\nlayers:\n  - dense: {units: 10}\nloss: {label_smoothing: 0.05}\n",
                         "m.yaml")
            .label_smoothing == 0.05f);
}
