#pragma once
/// The saved-model file: trained parameters by name, with enough metadata to refuse a mismatch.
///
/// Layout (little-endian):
///   "TROUPEMD" | u32 format version | u64 header bytes | header (JSON: model name, step, epoch,
///   metrics, parameters [{name, shape, offset}]) | u64 floats | float32 data | u32 CRC-32 of all
///   preceding bytes.
/// Files are written atomically; a truncated or corrupt file is refused with a message that
/// names the file and what is wrong, and another format version names both versions.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tensor/nn/flat_params.hpp"

namespace troupe::train {

constexpr std::uint32_t model_file_version = 1;

struct saved_model {
  std::string model_name;
  nn::param_layout layout;
  std::vector<float> params;
  std::string info_json = "{}"; ///< free-form metadata (step, epoch, accuracy...) as JSON text
};

void save_model(const std::string& path, const saved_model& m);

/// Reads and validates a model file (magic, version, checksum, sizes, layout consistency).
saved_model load_model(const std::string& path);

} // namespace troupe::train
