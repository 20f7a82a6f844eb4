#pragma once
/// The checkpoint file: the complete state of a training run, enough to continue it bit for bit.
///
/// Layout (format version 1, little-endian):
///   "TROUPECK" | u32 format version | u64 header bytes | header (JSON: model name, parameter
///   layout [{name, shape, offset}], global step, epoch, trainer clocks, data seed, loader cursors,
///   RNG states, info) | u64 floats | float32 parameters | u64 optimizer bytes | optimizer state
///   (optim::write_optimizer_state) | u64 config bytes | config text (raw bytes: YAML need not be
///   valid UTF-8, which a JSON string must) | u32 CRC-32 of all preceding bytes.
/// Every format version keeps the first three fields and the CRC-32 trailer, so a reader can tell
/// an intact checkpoint of another version (refused, naming both versions) from a corrupt one.
/// New header fields go at the end of the JSON object; a field is never reused.

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "tensor/nn/flat_params.hpp"
#include "tensor/optim/optimizer_state.hpp"

namespace troupe::train {

constexpr std::uint32_t checkpoint_format_version = 1;

/// Everything a run needs to resume: what the aggregator, the loader and the trainers hold.
struct training_state {
  std::string model_name;
  nn::param_layout layout;
  std::vector<float> params;        ///< [layout.total]
  optim::optimizer_state optimizer; ///< buffers "<parameter>.<slot>", each sized like the parameter
  std::uint64_t global_step = 0;    ///< optimizer applications = LR-schedule position
  std::uint64_t epoch = 0;
  std::vector<std::uint64_t> trainer_clocks;                           ///< per trainer rank: gradients pushed
  std::uint64_t data_seed = 0;                                         ///< the loader's permutation seed
  std::vector<std::pair<std::uint64_t, std::uint64_t>> loader_cursors; ///< per rank: epoch, step
  std::vector<std::array<std::uint64_t, 4>> rng_states;                ///< troupe::rng::state()
  std::string config_text;                                             ///< the YAML the run was started with
  std::string info_json = "{}";                                        ///< free-form metadata as a JSON object
};

/// Thrown when an intact checkpoint was written in another format version; the message names both.
class checkpoint_version_error : public error {
public:
  using error::error;
};

/// The bytes of a checkpoint file for `s`; throws troupe::error if `s` is inconsistent
/// (parameter count vs layout, optimizer buffers vs parameters, info not a JSON object).
std::string encode_checkpoint(const training_state& s);

/// Decodes and validates checkpoint bytes; `source` (the file name) starts every error message.
training_state decode_checkpoint(const std::string& bytes, const std::string& source);

/// Writes `s` to `path` atomically (temporary file, fsync, rename, fsync of the directory).
void write_checkpoint(const std::string& path, const training_state& s);

/// Reads and validates a checkpoint: magic, format version, every length before allocating, the
/// checksum, and the consistency of layout, parameters and optimizer buffers. Throws
/// checkpoint_version_error for an intact file of another version, troupe::error otherwise.
training_state read_checkpoint(const std::string& path);

} // namespace troupe::train
