#include "tensor/nn/flat_params.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace troupe::nn {

void param_layout::require_same(const param_layout& other, const std::string& what) const {
  const std::size_t common = std::min(entries.size(), other.entries.size());
  for (std::size_t i = 0; i < common; ++i) {
    const auto& a = entries[i];
    const auto& b = other.entries[i];
    TROUPE_ENFORCE(a.name == b.name && a.shape == b.shape, "{}: parameter {} is '{}' {}, but the model expects '{}' {}",
                   what, i, b.name, tensor::shape_str(b.shape), a.name, tensor::shape_str(a.shape));
  }
  TROUPE_ENFORCE(entries.size() == other.entries.size(),
                 "{}: has {} parameters, but the model has {} (first unmatched: '{}')", what, other.entries.size(),
                 entries.size(), entries.size() > common ? entries[common].name : other.entries[common].name);
}

param_layout layout_of(module& m) {
  param_layout layout;
  for (auto& p : m.parameters()) {
    param_entry e{p.name, p.param.shape(), layout.total, p.param.size()};
    layout.total += e.size;
    layout.entries.push_back(std::move(e));
  }
  layout.params = layout.total;
  for (auto& b : m.buffers()) {
    param_entry e{b.name, b.buffer.shape(), layout.total, b.buffer.size(), true};
    layout.total += e.size;
    layout.entries.push_back(std::move(e));
  }
  return layout;
}

void gather_values(module& m, std::vector<float>& flat) {
  const auto params = m.parameters();
  const auto buffers = m.buffers();
  std::size_t total = 0;
  for (const auto& p : params)
    total += p.param.size();
  for (const auto& b : buffers)
    total += b.buffer.size();
  flat.resize(total);
  std::size_t offset = 0;
  for (const auto& p : params) {
    std::copy_n(p.param.value().data(), p.param.size(), flat.data() + offset);
    offset += p.param.size();
  }
  for (const auto& b : buffers) {
    std::copy_n(b.buffer.value().data(), b.buffer.size(), flat.data() + offset);
    offset += b.buffer.size();
  }
}

void scatter_values(module& m, const float* flat) {
  std::size_t offset = 0;
  for (auto& p : m.parameters()) {
    std::copy_n(flat + offset, p.param.size(), p.param.get()->value.data());
    offset += p.param.size();
  }
  for (auto& b : m.buffers()) {
    std::copy_n(flat + offset, b.buffer.size(), b.buffer.get()->value.data());
    offset += b.buffer.size();
  }
}

void accumulate_grads(module& m, float* flat, float scale) {
  std::size_t offset = 0;
  for (auto& p : m.parameters()) {
    const auto& g = p.param.grad();
    if (g.size() == p.param.size()) {
      const float* src = g.data();
      float* dst = flat + offset;
      for (std::size_t i = 0, n = g.size(); i < n; ++i)
        dst[i] += scale * src[i];
    }
    offset += p.param.size();
  }
}

void accumulate_buffer_updates(module& m, const float* read, float* flat, float scale) {
  std::size_t offset = 0;
  for (auto& p : m.parameters())
    offset += p.param.size();
  for (auto& b : m.buffers()) {
    const float* now = b.buffer.value().data();
    for (std::size_t i = 0, n = b.buffer.size(); i < n; ++i)
      flat[offset + i] += scale * (now[i] - read[offset + i]);
    offset += b.buffer.size();
  }
}

void apply_buffer_updates(const param_layout& layout, float* values, const float* update, float scale) {
  for (const auto& e : layout.entries) {
    if (!e.buffer)
      continue;
    for (std::size_t i = e.offset, end = e.offset + e.size; i < end; ++i)
      values[i] += scale * update[i];
  }
}

void zero_grads(module& m) {
  for (auto& p : m.parameters())
    p.param.zero_grad();
}

} // namespace troupe::nn
