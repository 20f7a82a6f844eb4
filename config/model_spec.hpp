#pragma once
/// The model description (YAML) as a typed, validated struct, and the layer-by-layer shapes it implies.

#include <cstddef>
#include <string>
#include <vector>

namespace troupe::config {

/// One layer (one node) of a model; only the fields of its `type` mean anything.
struct layer_spec {
  /// conv2d | maxpool2d | avgpool2d | global_avg_pool | batchnorm2d | batchnorm1d | relu | leaky_relu | gelu |
  /// sigmoid | tanh | flatten | dense | dropout, or a join of several inputs: add | concat
  std::string type;
  std::size_t out_channels = 0, kernel = 0, stride = 1, padding = 0; ///< conv2d; max/avgpool2d use kernel/stride
  std::size_t units = 0;                                             ///< dense
  float p = 0.5f;               ///< dropout: probability of zeroing an element, in [0, 1)
  float momentum = 0.1f;        ///< batchnorm1d/2d: running = (1 − momentum)·running + momentum·batch
  float eps = 1e-5f;            ///< batchnorm1d/2d: added to the variance
  float negative_slope = 0.01f; ///< leaky_relu
  std::string init;  ///< "" (the trainer's default), kaiming_uniform | kaiming_normal | glorot_uniform | glorot_normal
  bool bias = true;  ///< conv2d, dense
  std::string where; ///< "file:line:col" of this layer, for later error messages

  /// Graph wiring (both optional: a layer without them reads the layer before it, the first layer the
  /// model's input, which is today's plain list).
  std::string name;                     ///< `name:`; lets later layers name this one in their inputs
  std::string name_where;               ///< "file:line:col" of the name
  std::vector<std::string> inputs;      ///< `inputs:` layer names, "input" for the model's input
  std::vector<std::string> input_where; ///< "file:line:col" of each entry of inputs
};

/// A model: input shape, layers (a list, or a graph wired by names and inputs), loss. The model's
/// output is the last layer's.
struct model_spec {
  std::string name;
  std::vector<std::size_t> input_shape; ///< C,H,W (rank 3) or features (rank 1), without the batch dim
  std::vector<layer_spec> layers;
  std::string loss = "softmax_cross_entropy"; ///< or "mse"
  /// softmax_cross_entropy: PyTorch's label_smoothing ε in [0, 1), in the training loss only
  /// (evaluation reports the plain loss). `loss: {kind: softmax_cross_entropy, label_smoothing: 0.1}`.
  float label_smoothing = 0.0f;
  std::string source; ///< file name the spec came from
};

/// Reads and validates the model description at `path` (shapes included); errors start "path:line:col: key.path: ".
model_spec load_model_spec(const std::string& path);

/// Parses and validates a model description from text cited as `source_name` in errors.
model_spec parse_model_spec(const std::string& yaml_text, const std::string& source_name);

/// Output shape (without the batch dim) of each layer, in the order of `layers`; throws troupe::error naming the
/// layer's place when a shape is impossible or the wiring is broken (see resolve_graph).
std::vector<std::vector<std::size_t>> infer_shapes(const model_spec& spec);

/// Number of elements the model outputs per sample (those of the last shape).
std::size_t num_outputs(const model_spec& spec);

} // namespace troupe::config
