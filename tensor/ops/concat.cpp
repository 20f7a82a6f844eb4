#include "tensor/ops/concat.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace troupe::tensor {

var concat_channels(const std::vector<var>& xs) {
  TROUPE_ENFORCE(!xs.empty(), "concat_channels needs at least one input");
  const shape_t first = xs[0].shape();
  TROUPE_ENFORCE(first.size() >= 2, "concat_channels inputs must be [N, C, ...], got {}", shape_str(first));
  // Per input: channels·(elements per channel) floats per sample, copied as one block.
  std::vector<std::size_t> blocks;
  std::size_t channels = 0, total_block = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const shape_t s = xs[k].shape();
    bool same = s.size() == first.size() && s[0] == first[0];
    for (std::size_t a = 2; same && a < s.size(); ++a)
      same = s[a] == first[a];
    TROUPE_ENFORCE(same, "concat_channels input {} has shape {}, which differs from input 0's {} outside axis 1", k,
                   shape_str(s), shape_str(first));
    channels += s[1];
    blocks.push_back(s[0] == 0 ? 0 : xs[k].size() / s[0]);
    total_block += blocks.back();
  }
  shape_t out_shape = first;
  out_shape[1] = channels;
  array out = array::from_shape(out_shape);
  const std::size_t n = first[0];
  std::size_t offset = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const float* src = xs[k].value().data();
    for (std::size_t i = 0; i < n; ++i)
      std::copy_n(src + i * blocks[k], blocks[k], out.data() + i * total_block + offset);
    offset += blocks[k];
  }
  return make_result(std::move(out), xs, [blocks, total_block, n](node& self) {
    const float* g = self.grad.data();
    std::size_t off = 0;
    for (std::size_t k = 0; k < blocks.size(); ++k) {
      node& in = *self.inputs[k];
      if (in.requires_grad) {
        float* gi = in.grad_buffer().data();
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t e = 0; e < blocks[k]; ++e)
            gi[i * blocks[k] + e] += g[i * total_block + off + e];
      }
      off += blocks[k];
    }
  });
}

} // namespace troupe::tensor
