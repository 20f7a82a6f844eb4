#pragma once
/// The model description (YAML) as a typed, validated struct, and the layer-by-layer shapes it implies.

#include <cstddef>
#include <string>
#include <vector>

namespace troupe::config {

/// One layer of a sequential model; only the fields of its `type` mean anything.
struct layer_spec {
  std::string type; ///< conv2d | maxpool2d | relu | sigmoid | tanh | flatten | dense | dropout
  std::size_t out_channels = 0, kernel = 0, stride = 1, padding = 0; ///< conv2d; maxpool2d uses kernel/stride
  std::size_t units = 0;                                             ///< dense
  float p = 0.5f;    ///< dropout: probability of zeroing an element, in [0, 1)
  std::string init;  ///< "" (the trainer's default), kaiming_uniform | kaiming_normal | glorot_uniform | glorot_normal
  bool bias = true;  ///< conv2d, dense
  std::string where; ///< "file:line:col" of this layer, for later error messages
};

/// A sequential model: input shape, layers in order, loss.
struct model_spec {
  std::string name;
  std::vector<std::size_t> input_shape; ///< C,H,W (rank 3) or features (rank 1), without the batch dim
  std::vector<layer_spec> layers;
  std::string loss = "softmax_cross_entropy"; ///< or "mse"
  std::string source;                         ///< file name the spec came from
};

/// Reads and validates the model description at `path` (shapes included); errors start "path:line:col: key.path: ".
model_spec load_model_spec(const std::string& path);

/// Parses and validates a model description from text cited as `source_name` in errors.
model_spec parse_model_spec(const std::string& yaml_text, const std::string& source_name);

/// Output shape (without the batch dim) after each layer; throws troupe::error naming the layer's place when a shape is
/// impossible.
std::vector<std::vector<std::size_t>> infer_shapes(const model_spec& spec);

/// Number of elements the model outputs per sample (those of the last shape).
std::size_t num_outputs(const model_spec& spec);

} // namespace troupe::config
