#include "config/model_spec.hpp"

#include <limits>
#include <map>

#include <fmt/format.h>

#include "common/error.hpp"
#include "config/yaml_util.hpp"

namespace troupe::config {

namespace {

const std::vector<std::string> layer_types = {
    "conv2d", "maxpool2d", "avgpool2d", "global_avg_pool", "batchnorm2d", "batchnorm1d", "relu", "leaky_relu",
    "gelu",   "sigmoid",   "tanh",      "flatten",         "dense",       "dropout",     "add",  "concat"};
const std::vector<std::string> init_names = {"kaiming_uniform", "kaiming_normal", "glorot_uniform", "glorot_normal"};
const std::vector<std::string> loss_names = {"softmax_cross_entropy", "mse"};
const std::vector<std::string> top_level_keys = {"name", "input", "layers", "loss"};

/// The option keys each layer type accepts (required ones first) and how many of them are required.
struct layer_options {
  std::vector<std::string> keys;
  std::size_t required;
};

const layer_options& options_of(const std::string& type) {
  static const std::map<std::string, layer_options> table = {
      {"conv2d", {{"out_channels", "kernel", "stride", "padding", "init", "bias"}, 2}},
      {"maxpool2d", {{"kernel", "stride"}, 1}},
      {"avgpool2d", {{"kernel", "stride"}, 1}},
      {"batchnorm2d", {{"momentum", "eps"}, 0}},
      {"batchnorm1d", {{"momentum", "eps"}, 0}},
      {"leaky_relu", {{"negative_slope"}, 0}},
      {"dense", {{"units", "init", "bias"}, 1}},
      {"dropout", {{"p"}, 0}},
      {"relu", {{}, 0}},
      {"sigmoid", {{}, 0}},
      {"tanh", {{}, 0}},
      {"flatten", {{}, 0}},
      {"global_avg_pool", {{}, 0}},
      {"gelu", {{}, 0}},
      {"add", {{}, 0}},
      {"concat", {{}, 0}},
  };
  return table.at(type);
}

bool is_layer_type(const std::string& word) {
  for (const auto& t : layer_types)
    if (t == word)
      return true;
  return false;
}

std::string shape_str(const std::vector<std::size_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

/// "- conv2d: {out_channels: ..., kernel: ...}": how a layer with required options is written.
std::string layer_example(const std::string& type) {
  const layer_options& opts = options_of(type);
  std::string inner;
  for (std::size_t i = 0; i < opts.required; ++i)
    inner += (i ? ", " : "") + opts.keys[i] + ": ...";
  return fmt::format("- {}: {{{}}}", type, inner);
}

/// Reads the options mapping of a layer of known type into `layer`.
void read_options(const yaml_cursor& opts, layer_spec& layer) {
  const layer_options& allowed = options_of(layer.type);
  if (!opts.node().IsMap() && !opts.node().IsNull()) {
    if (allowed.keys.empty())
      opts.fail(fmt::format("{} takes no options; write '- {}'", layer.type, layer.type));
    opts.fail(fmt::format("expected the options as a mapping like '{}: {{{}: ...}}', got {}", layer.type,
                          allowed.keys.front(),
                          opts.node().IsScalar() ? "'" + opts.node().Scalar() + "'" : std::string("a sequence")));
  }
  opts.check_keys(allowed.keys);
  const auto positive = bounds::positive();
  if (layer.type == "conv2d") {
    layer.out_channels = opts.required<std::size_t>("out_channels", positive);
    layer.kernel = opts.required<std::size_t>("kernel", positive);
    layer.stride = opts.optional<std::size_t>("stride", positive).value_or(1);
    layer.padding = opts.optional<std::size_t>("padding", bounds::at_least(0)).value_or(0);
  } else if (layer.type == "maxpool2d" || layer.type == "avgpool2d") {
    layer.kernel = opts.required<std::size_t>("kernel", positive);
    // PyTorch's MaxPool2d and AvgPool2d: stride defaults to the kernel size (non-overlapping windows).
    layer.stride = opts.optional<std::size_t>("stride", positive).value_or(layer.kernel);
  } else if (layer.type == "batchnorm2d" || layer.type == "batchnorm1d") {
    layer.momentum = opts.optional<float>("momentum", bounds::closed(0, 1)).value_or(layer.momentum);
    layer.eps = opts.optional<float>("eps", positive).value_or(layer.eps);
  } else if (layer.type == "leaky_relu") {
    layer.negative_slope = opts.optional<float>("negative_slope").value_or(layer.negative_slope);
  } else if (layer.type == "dense") {
    layer.units = opts.required<std::size_t>("units", positive);
  } else if (layer.type == "dropout") {
    layer.p = opts.optional<float>("p", bounds::half_open(0, 1)).value_or(layer.p);
  }
  if (layer.type == "conv2d" || layer.type == "dense") {
    if (auto init = opts.find("init"))
      layer.init = init->as_choice(init_names, "initializer");
    layer.bias = opts.optional<bool>("bias").value_or(true);
  }
}

/// The optional `name:` and `inputs:` of a layer (a single name or a list of names).
void read_wiring(const yaml_cursor& item, layer_spec& layer) {
  if (auto name = item.find("name")) {
    layer.name = name->as<std::string>();
    layer.name_where = name->where();
    if (layer.name.empty())
      name->fail("expected a non-empty layer name");
  }
  if (auto inputs = item.find("inputs")) {
    if (inputs->node().IsScalar()) {
      layer.inputs.push_back(inputs->as<std::string>());
      layer.input_where.push_back(inputs->where());
    } else if (inputs->node().IsSequence() && inputs->node().size() > 0) {
      for (const auto& in : inputs->items()) {
        layer.inputs.push_back(in.as<std::string>());
        layer.input_where.push_back(in.where());
      }
    } else {
      inputs->fail(fmt::format("expected a layer name or a list of them like [a, b] ('input' is the model's input), "
                               "got {}",
                               describe_node(inputs->node())));
    }
  }
}

/// One element of `layers`: a bare type ("- relu") or a single-key mapping ("- conv2d: {...}").
layer_spec parse_layer(const yaml_cursor& item) {
  layer_spec layer;
  layer.where = item.where();
  const YAML::Node& node = item.node();

  if (node.IsScalar()) {
    layer.type = item.as_choice(layer_types, "layer type");
    if (options_of(layer.type).required > 0)
      item.fail(fmt::format("{} needs options; write '{}'", layer.type, layer_example(layer.type)));
    return layer;
  }
  if (!node.IsMap())
    item.fail(fmt::format("expected a layer ('- relu' or '- conv2d: {{out_channels: 32, kernel: 3}}'), got {}",
                          node.IsNull() ? "an empty entry" : "a sequence"));

  // Besides its type, a layer of a graph may carry a name and its inputs.
  std::vector<std::string> keys;
  for (const auto& k : item.keys())
    if (k != "name" && k != "inputs")
      keys.push_back(k);
  if (keys.empty())
    item.fail(fmt::format("a layer needs its type beside name and inputs, e.g. 'conv2d: {{...}}' or 'add:'; expected "
                          "one of: {}",
                          fmt::join(layer_types, ", ")));
  if (keys.size() != 1) {
    // The usual cause: options written at the type's indentation instead of under it.
    std::string hint;
    for (const auto& k : keys)
      if (hint.empty() && is_layer_type(k) && !options_of(k).keys.empty())
        hint = fmt::format("; indent the options under '{}:' or write '{}'", k, layer_example(k));
    item.fail(fmt::format("a layer is a single-key mapping 'type: {{options}}', got {} keys ({}){}", keys.size(),
                          fmt::join(keys, ", "), hint));
  }
  for (auto it = node.begin(); it != node.end(); ++it)
    if (it->first.Scalar() == keys.front()) {
      yaml_cursor type_cursor(it->first, item.source(), item.path(), it->first.Mark());
      layer.type = type_cursor.as_choice(layer_types, "layer type");
    }
  read_options(item.child(layer.type), layer);
  read_wiring(item, layer);
  return layer;
}

/// "file:line:col: layers[3].conv2d: problem".
[[noreturn]] void layer_error(const model_spec& spec, std::size_t i, const std::string& problem) {
  const layer_spec& layer = spec.layers[i];
  const std::string& where = layer.where.empty() ? spec.source : layer.where;
  throw error(fmt::format("{}{}layers[{}].{}: {}", where, where.empty() ? "" : ": ", i, layer.type, problem));
}

/// The model description held by a whole YAML document.
model_spec read_model_spec(const yaml_cursor& root) {
  if (root.node().IsNull())
    root.fail("the model description is empty; expected a mapping with name, input, layers and optionally loss");
  root.check_keys(top_level_keys);

  model_spec spec;
  spec.source = root.source();
  const yaml_cursor name = root.child("name");
  spec.name = name.as<std::string>();
  if (spec.name.empty())
    name.fail("expected a non-empty model name");

  const yaml_cursor input = root.child("input");
  if (!input.node().IsSequence())
    input.fail(fmt::format("expected a list [channels, height, width] or [features], got {}",
                           input.node().IsScalar() ? "'" + input.node().Scalar() + "'"
                           : input.node().IsMap()  ? "a mapping"
                                                   : "nothing"));
  for (const auto& dim : input.items())
    spec.input_shape.push_back(dim.as<std::size_t>(bounds::positive()));
  if (spec.input_shape.size() != 1 && spec.input_shape.size() != 3)
    input.fail(fmt::format("expected [channels, height, width] or [features], got {} values {}",
                           spec.input_shape.size(), shape_str(spec.input_shape)));

  const yaml_cursor layers = root.child("layers");
  if (layers.node().IsNull() || (layers.node().IsSequence() && layers.node().size() == 0))
    layers.fail("expected at least one layer, got an empty list");
  for (const auto& item : layers.items())
    spec.layers.push_back(parse_layer(item));

  const auto loss = root.find("loss");
  if (loss && loss->node().IsMap()) { // {kind, label_smoothing}
    loss->check_keys({"kind", "label_smoothing"});
    if (const auto kind = loss->find("kind"))
      spec.loss = kind->as_choice(loss_names, "loss");
    if (const auto eps = loss->find("label_smoothing")) {
      spec.label_smoothing = eps->as<float>(bounds::half_open(0, 1));
      if (spec.loss != "softmax_cross_entropy")
        eps->fail(fmt::format("label smoothing applies to softmax_cross_entropy, not to {}", spec.loss));
    }
  } else if (loss) {
    spec.loss = loss->as_choice(loss_names, "loss");
  }

  const auto shapes = infer_shapes(spec);
  if (spec.loss == "softmax_cross_entropy" && (shapes.back().size() != 1 || shapes.back()[0] < 2)) {
    const std::string problem = fmt::format(
        "softmax_cross_entropy needs a rank-1 output of at least 2 class scores, but the model ends with {}{}",
        shape_str(shapes.back()), shapes.back().size() == 1 ? "" : "; end the model with flatten and dense");
    if (loss)
      loss->fail(problem);
    layer_error(spec, spec.layers.size() - 1, "loss " + problem);
  }
  return spec;
}

} // namespace

model_spec parse_model_spec(const std::string& yaml_text, const std::string& source_name) {
  return read_model_spec(parse_yaml(yaml_text, source_name));
}

model_spec load_model_spec(const std::string& path) {
  return read_model_spec(load_yaml_file(path));
}

} // namespace troupe::config
