#pragma once
/// Forward/backward of one batch on T threads: each thread owns a model replica and a slice of
/// the batch; their gradients are summed in a fixed order into one flat, batch-mean gradient.
///
/// This is the compute the trainer actor runs. Parameters come in and gradients go out as flat
/// buffers (nn::param_layout), so the same engine serves one-process training and a distributed
/// trainer whose master parameters live elsewhere. OpenBLAS is set to one thread: the engine's
/// replicas own the cores. Results are deterministic for a given T.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "config/model_spec.hpp"
#include "tensor/nn/flat_params.hpp"
#include "tensor/nn/module.hpp"
#include "train/thread_pool.hpp"

namespace troupe::train {

/// Sums over a batch; divide by n for means.
struct batch_stats {
  double loss_sum = 0.0;    ///< Σ per-sample loss
  std::size_t correct1 = 0; ///< top-1 hits
  std::size_t correct5 = 0; ///< top-5 hits (top-k with k = min(5, classes))
  std::size_t n = 0;

  batch_stats& operator+=(const batch_stats& o);
};

/// Pieces of a gradient that may leave before the whole of it is computed (communication
/// overlapped with backward, as DDP's gradient buckets): the flat gradient is cut at `begins`
/// (ascending, the first 0), piece i being [begins[i], begins[i + 1]) and the last one running to
/// the end. compute() calls `ready(i, sums)` once per piece as soon as that range of its output is
/// final — every thread's slice summed into it, in the fixed order — with the batch's sums. Calls
/// come one at a time, from whichever compute thread completed the piece, and all of them before
/// compute() returns; pieces holding the last layers' parameters (and the buffers, final after
/// the forward pass) come first. The gradient's values are those of compute() without pieces.
struct gradient_pieces {
  std::vector<std::size_t> begins;
  std::function<void(std::size_t piece, const batch_stats& sums)> ready;
};

class gradient_engine {
public:
  /// T = threads replicas of `spec`, all initialised from `seed`.
  gradient_engine(const config::model_spec& spec, std::uint64_t seed, std::size_t threads);

  const nn::param_layout& layout() const { return layout_; }
  std::size_t threads() const { return replicas_.size(); }
  /// The initial parameters (identical in every replica).
  std::vector<float> initial_parameters();
  /// The model's description (layers), for logs.
  std::string describe() const;

  /// Loads `params` (parameters and buffers), runs forward/backward on images [n, C, H, W] and
  /// writes the batch-mean gradient into grad (layout().total floats, overwritten). Its buffer
  /// entries hold the buffers' update instead: Σ_t (n_t / n) · (value after slice t's training
  /// forward − value read), the sample-weighted mean over the threads' slices (each slice's batch
  /// norm normalizes with its own statistics). Returns the batch's sums.
  batch_stats compute(const float* params, const float* images, const std::int32_t* labels, std::size_t n, float* grad);
  /// compute(), telling `pieces.ready` as each piece of grad is final (see gradient_pieces).
  batch_stats compute(const float* params, const float* images, const std::int32_t* labels, std::size_t n, float* grad,
                      const gradient_pieces& pieces);

  /// Forward only (evaluation mode, no graph: batch norm uses the running statistics in `params`),
  /// in chunks of at most `chunk` images per thread.
  batch_stats evaluate(const float* params, const float* images, const std::int32_t* labels, std::size_t n,
                       std::size_t chunk = 500);

private:
  struct replica {
    nn::module_ptr model;    ///< an nn::sequential, or an nn::graph for a model wired by name
    std::vector<float> grad; ///< this replica's batch-slice gradient, scaled by its share of the batch
    batch_stats stats;
  };

  /// Forward (and with `train` backward) of one slice. `after_forward`, if set, runs between the
  /// two with the slice's sums; `on_leaf` is passed to the backward pass.
  batch_stats forward_slice(replica& r, const float* images, const std::int32_t* labels, std::size_t n, bool train,
                            const std::function<void(const batch_stats&)>& after_forward = nullptr,
                            const tensor::leaf_ready_fn& on_leaf = nullptr);

  config::model_spec spec_;
  std::vector<std::size_t> input_shape_;
  std::size_t classes_;
  nn::param_layout layout_;
  std::vector<replica> replicas_;
  thread_pool pool_;
};

} // namespace troupe::train
