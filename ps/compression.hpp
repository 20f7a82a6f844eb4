#pragma once
/// Compression on the wire (job.compression, docs/compression.md): 16-bit floats (IEEE fp16 and
/// bfloat16) and top-k sparsification, and the trainer's error feedback. No message and no
/// socket here: ps/protocol.cpp puts what these functions make into tensors and checks what
/// arrives.
///
/// Error feedback (Seide et al. 2014, Stich et al. 2018): a trainer keeps the residual r, the part
/// of its gradients no push has carried yet. A push sends C(g + r) and keeps
/// r <- (g + r) - D(C(g + r)), where D is what the aggregator decodes; so after any number of
/// pushes, (what was decoded) + r = (the sum of the gradients), nothing lost, only delayed.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "config/job_spec.hpp"

namespace troupe::ps {

/// IEEE binary16 of x, rounded to nearest even (subnormals kept); beyond ±65504 gives ±Inf, a NaN
/// stays a (quiet) NaN with its sign and the top bits of its payload.
std::uint16_t to_fp16(float x);
/// The float a binary16 stands for (exact).
float from_fp16(std::uint16_t h);
/// bfloat16 of x (the upper 16 bits), rounded to nearest even (subnormals kept); a NaN stays a
/// quiet NaN with its sign and the top bits of its payload.
std::uint16_t to_bf16(float x);
/// The float a bfloat16 stands for (exact).
float from_bf16(std::uint16_t h);

/// Bulk forms of the four conversions above, bit for bit the same (AVX-512 where compiled for it).
void to_fp16(const float* in, std::size_t n, std::uint16_t* out);
void from_fp16(const std::uint16_t* in, std::size_t n, float* out);
void to_bf16(const float* in, std::size_t n, std::uint16_t* out);
void from_bf16(const std::uint16_t* in, std::size_t n, float* out);

/// How many entries a top-k push of an n-vector sends: ceil(ratio * n), at least 1, at most n
/// (0 for n = 0).
std::size_t topk_count(std::size_t n, double ratio);

/// The positions of the k entries of v[0, n) of largest magnitude, in increasing order. A NaN
/// counts as larger than any number (so a broken gradient is sent and refused, not hidden); among
/// equal magnitudes the lower position wins, so the choice is deterministic.
std::vector<std::int32_t> topk_positions(const float* v, std::size_t n, std::size_t k);

/// A float vector in its compressed wire form.
struct packed_f32 {
  config::compression mode = config::compression::none;
  std::size_t size = 0;                                     ///< length of the dense vector
  std::shared_ptr<const std::vector<std::uint16_t>> halves; ///< fp16 / bf16: `size` halves
  std::shared_ptr<const std::vector<std::int32_t>> index;   ///< topk: positions, strictly increasing
  std::shared_ptr<const std::vector<float>> values;         ///< topk: the values at `index`

  /// Bytes of its tensors on the wire.
  std::uint64_t bytes() const;
};

/// v[0, n) as 16-bit floats (`mode` fp16 or bf16): how parameters travel. No error feedback: the
/// aggregator's master copy stays 32-bit, each message rounds it afresh.
packed_f32 pack_halves(const float* v, std::size_t n, config::compression mode);

/// The part of `p` for the dense range [begin, end), as if that range had been packed alone:
/// fp16 / bf16 its halves, top-k the positions inside it, re-based to `begin` (sharded
/// aggregators: each shard gets its range of the one compressed gradient).
packed_f32 slice_packed(const packed_f32& p, std::size_t begin, std::size_t end);

/// A trainer's gradient compressor: the residual of error feedback and the buffers of one push.
class gradient_compressor {
public:
  /// For gradients of `size` floats; `spec.mode` must not be none.
  gradient_compressor(const config::compression_spec& spec, std::size_t size);

  /// grad + residual in its wire form; the residual becomes (grad + residual) minus what the
  /// aggregator will decode. An entry whose sum is not finite leaves 0 behind (it is sent, and the
  /// aggregator refuses the gradient; the residual is not poisoned for the pushes after it).
  packed_f32 compress(const float* grad);

  /// What no push has carried yet (zeros at the start).
  const std::vector<float>& residual() const { return residual_; }
  /// Its L2 norm.
  double residual_norm() const;
  /// Drops the residual (the history it came from was rewound, e.g. a re-sync to a checkpoint);
  /// returns the L2 norm it had.
  double reset();

  const config::compression_spec& spec() const { return spec_; }

private:
  config::compression_spec spec_;
  std::vector<float> residual_;
  std::vector<float> sum_; ///< grad + residual of the push being made
};

} // namespace troupe::ps
