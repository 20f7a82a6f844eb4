#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/model_graph.hpp"
#include "config/model_spec.hpp"

#include "example_path.hpp"

using Catch::Contains;
using Catch::StartsWith;
using troupe::config::infer_shapes;
using troupe::config::load_model_spec;
using troupe::config::model_graph;
using troupe::config::model_spec;
using troupe::config::parse_model_spec;
using troupe::config::resolve_graph;

using shape_list = std::vector<std::vector<std::size_t>>;

namespace {

/// A residual block (two conv+batchnorm paths from `stem` joined by an add), then a concat with the input.
const char* residual = R"(name: block
input: [1, 8, 8]
layers:
  - name: stem
    conv2d: {out_channels: 4, kernel: 3, padding: 1}
  - conv2d: {out_channels: 4, kernel: 3, padding: 1}
  - batchnorm2d
  - relu
  - conv2d: {out_channels: 4, kernel: 3, padding: 1}
  - name: main
    batchnorm2d: {momentum: 0.2, eps: 0.001}
  - name: short
    conv2d: {out_channels: 4, kernel: 1}
    inputs: stem
  - name: sum
    add:
    inputs: [main, short]
  - name: act
    gelu:
  - name: both
    concat:
    inputs: [act, input]
  - avgpool2d: {kernel: 2}
  - leaky_relu: {negative_slope: 0.2}
  - global_avg_pool
  - batchnorm1d
  - dense: {units: 3}
)";

/// `residual` with `from` replaced by `to` (the first occurrence).
std::string edit(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

/// The error `yaml` is rejected with: it must start "bad.yaml:L:C: path: " and contain `problem`.
void check_rejected(const std::string& yaml, const std::string& where, const std::string& path,
                    const std::string& problem) {
  REQUIRE_THROWS_AS(parse_model_spec(yaml, "bad.yaml"), troupe::error);
  REQUIRE_THROWS_WITH(parse_model_spec(yaml, "bad.yaml"), StartsWith(where + ": " + path + ": ") && Contains(problem));
}

} // namespace

TEST_CASE("a model wired by names and inputs parses into a graph with its shapes", "[config][model_spec][graph]") {
  const model_spec spec = parse_model_spec(residual, "m.yaml");
  REQUIRE(spec.layers.size() == 15);
  CHECK(spec.layers[0].name == "stem");
  CHECK(spec.layers[0].name_where == "m.yaml:4:11");
  CHECK(spec.layers[6].inputs == std::vector<std::string>{"stem"});
  CHECK(spec.layers[7].type == "add");
  CHECK(spec.layers[7].inputs == std::vector<std::string>{"main", "short"});
  CHECK(spec.layers[7].input_where == std::vector<std::string>{"m.yaml:17:14", "m.yaml:17:20"});
  CHECK(spec.layers[5].momentum == 0.2f);
  CHECK(spec.layers[5].eps == 0.001f);
  CHECK(spec.layers[2].momentum == 0.1f);
  CHECK(spec.layers[11].negative_slope == 0.2f);
  CHECK(spec.layers[10].stride == 2); // avgpool2d: stride defaults to the kernel, as PyTorch's

  const model_graph g = resolve_graph(spec);
  CHECK_FALSE(g.sequential);
  CHECK(g.inputs[0] == std::vector<std::size_t>{model_graph::model_input});
  CHECK(g.inputs[6] == std::vector<std::size_t>{0});
  CHECK(g.inputs[7] == std::vector<std::size_t>{5, 6});
  CHECK(g.inputs[9] == std::vector<std::size_t>{8, model_graph::model_input});
  CHECK(g.order.size() == 15);
  CHECK(infer_shapes(spec) == shape_list{{4, 8, 8},
                                         {4, 8, 8},
                                         {4, 8, 8},
                                         {4, 8, 8},
                                         {4, 8, 8},
                                         {4, 8, 8},
                                         {4, 8, 8},
                                         {4, 8, 8},
                                         {4, 8, 8},
                                         {5, 8, 8},
                                         {5, 4, 4},
                                         {5, 4, 4},
                                         {5},
                                         {5},
                                         {3}});
}

TEST_CASE("layers may be listed before the layers they read; they run after them", "[config][model_spec][graph]") {
  const model_spec spec = parse_model_spec(R"(name: m
input: [4]
layers:
  - name: a
    dense: {units: 3}
  - name: out
    add:
    inputs: [a, b]
  - name: b
    dense: {units: 3}
    inputs: [input]
  - dense: {units: 2}
    inputs: [out]
)",
                                           "m.yaml");
  const model_graph g = resolve_graph(spec);
  CHECK(g.order == std::vector<std::size_t>{0, 2, 1, 3});
  CHECK(infer_shapes(spec) == shape_list{{3}, {3}, {3}, {2}});
}

TEST_CASE("a plain list of layers stays a plain list", "[config][model_spec][graph]") {
  const model_graph g = resolve_graph(load_model_spec(troupe_test::example("models/fmnist_cnn.yaml")));
  CHECK(g.sequential);
  CHECK(g.order == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("the shipped resnet_fmnist.yaml parses into a ResNet ending in 10 class scores",
          "[config][model_spec][graph]") {
  const model_spec spec = load_model_spec(troupe_test::example("models/resnet_fmnist.yaml"));
  CHECK(spec.name == "resnet-fmnist");
  const auto shapes = infer_shapes(spec);
  CHECK(shapes[2] == std::vector<std::size_t>{32, 28, 28});
  CHECK(shapes.back() == std::vector<std::size_t>{10});
  CHECK_FALSE(resolve_graph(spec).sequential);
}

TEST_CASE("graph wiring errors name the file, line, column, key path and the problem", "[config][model_spec][graph]") {
  SECTION("unknown input name") {
    check_rejected(edit(residual, "inputs: [main, short]", "inputs: [main, shrot]"), "bad.yaml:17:20",
                   "layers[7].inputs[1]", "unknown input 'shrot' (did you mean 'short'?)");
  }
  SECTION("cycle") {
    check_rejected(edit(residual, "inputs: stem", "inputs: both"), "bad.yaml:14:13", "layers[6].inputs",
                   "the layers form a cycle: 'sum' -> 'act' -> 'both' -> 'short' -> 'sum'");
  }
  SECTION("add of two shapes") {
    check_rejected(edit(residual, "conv2d: {out_channels: 4, kernel: 1}", "conv2d: {out_channels: 2, kernel: 1}"),
                   "bad.yaml:15:5", "layers[7].add",
                   "add needs inputs of one shape, got [4, 8, 8] from 'main' and [2, 8, 8] from 'short'");
  }
  SECTION("concat of two sizes") {
    check_rejected(edit(residual, "    gelu:\n", "    maxpool2d: {kernel: 2}\n"), "bad.yaml:20:5", "layers[9].concat",
                   "concat needs inputs that differ only in their first (channel) dimension, got [4, 4, 4] from "
                   "'act' and [1, 8, 8] from input");
  }
  SECTION("duplicate name") {
    check_rejected(edit(residual, "name: short", "name: main"), "bad.yaml:12:11", "layers[6].name",
                   "duplicate name 'main'; layers[5] at bad.yaml:10:11 is already called so");
  }
  SECTION("the reserved name input") {
    check_rejected(edit(residual, "name: stem", "name: input"), "bad.yaml:4:11", "layers[0].name",
                   "'input' is reserved");
  }
  SECTION("a join without inputs") {
    check_rejected(edit(residual, "    inputs: [main, short]\n", ""), "bad.yaml:15:5", "layers[7].add",
                   "add joins several layers; name them with 'inputs: [a, b]'");
  }
  SECTION("two inputs into a one-input layer") {
    check_rejected(edit(residual, "inputs: stem", "inputs: [stem, main]"), "bad.yaml:12:5", "layers[6].conv2d",
                   "conv2d reads one input, got 2 (stem, main); join them first with add or concat");
  }
  SECTION("an output nobody reads") {
    check_rejected(edit(residual, "inputs: [main, short]", "inputs: [short, stem]"), "bad.yaml:10:5",
                   "layers[5].batchnorm2d", "the output of 'main' is never used");
  }
  SECTION("inputs that are not names") {
    check_rejected(edit(residual, "inputs: stem", "inputs: {a: 1}"), "bad.yaml:14:13", "layers[6].inputs",
                   "expected a layer name or a list of them like [a, b]");
  }
  SECTION("a layer with a name but no type") {
    check_rejected(edit(residual, "    conv2d: {out_channels: 4, kernel: 1}\n", ""), "bad.yaml:12:5", "layers[6]",
                   "a layer needs its type beside name and inputs");
  }
  SECTION("batch norm of the wrong rank") {
    check_rejected(edit(residual, "  - batchnorm1d\n", "  - batchnorm2d\n"), "bad.yaml:26:5", "layers[13].batchnorm2d",
                   "needs a rank-3 input [channels, height, width], got [5]");
  }
  SECTION("a batch norm momentum outside [0, 1]") {
    check_rejected(edit(residual, "momentum: 0.2", "momentum: 2"), "bad.yaml:11:29", "layers[5].batchnorm2d.momentum",
                   "expected a number in [0, 1], got '2'");
  }
}

TEST_CASE("naming a layer of a list makes a graph, so parameters can take the name", "[config][model_spec][graph]") {
  const model_spec spec = parse_model_spec("name: m\ninput: [4]\nlayers:\n  - name: hidden\n    dense: {units: 3}\n"
                                           "  - dense: {units: 2}\n",
                                           "m.yaml");
  const model_graph g = resolve_graph(spec);
  CHECK_FALSE(g.sequential);
  CHECK(g.inputs[1] == std::vector<std::size_t>{0});
  CHECK(troupe::config::node_name(spec, 0) == "hidden");
  CHECK(troupe::config::node_name(spec, 1) == "1");
}
