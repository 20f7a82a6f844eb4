#include "tensor/optim/buffer_store.hpp"

#include <set>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::optim {

buffer_store::buffer_store(std::vector<std::string> slots) : slots_(std::move(slots)) {}

bool buffer_store::same_as_checked(const std::vector<param_slot>& params) const {
  if (!checked_valid_ || params.size() != checked_.size())
    return false;
  for (std::size_t i = 0; i < params.size(); ++i)
    if (params[i].size != checked_[i].size || params[i].name != checked_[i].name)
      return false;
  return true;
}

void buffer_store::check(const std::vector<param_shape>& params,
                         const std::map<std::string, std::vector<float>>& buffers, bool allow_missing) const {
  std::set<std::string_view> names;
  std::set<std::string> expected;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    TROUPE_ENFORCE(!p.name.empty(), "parameter #{} has an empty name; optimizer state is keyed by name", i);
    TROUPE_ENFORCE(names.insert(p.name).second, "parameter name '{}' is used twice; names must be unique", p.name);
    for (std::size_t s = 0; s < slots_.size(); ++s) {
      std::string k = key(p.name, s);
      const auto it = buffers.find(k);
      if (it == buffers.end()) {
        TROUPE_ENFORCE(allow_missing, "optimizer state has no buffer '{}' for parameter '{}' ({} floats)", k, p.name,
                       p.size);
      } else {
        TROUPE_ENFORCE(it->second.size() == p.size, "optimizer buffer '{}' holds {} floats but parameter '{}' has {}",
                       k, it->second.size(), p.name, p.size);
      }
      expected.insert(std::move(k));
    }
  }
  for (const auto& entry : buffers) {
    if (expected.count(entry.first) != 0)
      continue;
    std::string kept = slots_.empty() ? "none" : slots_.front();
    for (std::size_t s = 1; s < slots_.size(); ++s)
      kept += ", " + slots_[s];
    TROUPE_ENFORCE(false,
                   "optimizer state holds buffer '{}', which matches no parameter being optimized "
                   "(slots kept per parameter: {})",
                   entry.first, kept);
  }
}

void buffer_store::bind(const std::vector<param_slot>& params, bool create) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    TROUPE_ENFORCE(p.size == 0 || (p.value != nullptr && p.grad != nullptr),
                   "parameter '{}' has {} floats but a null {} pointer", p.name, p.size,
                   p.value == nullptr ? "value" : "gradient");
  }
  created_.assign(params.size(), false);
  if (same_as_checked(params))
    return; // Same names and sizes as last time: buffers exist and bound_ still points at them.

  std::vector<param_shape> shapes;
  shapes.reserve(params.size());
  for (const auto& p : params)
    shapes.push_back({p.name, p.size});
  check(shapes, buffers_, create);

  bound_.assign(params.size() * slots_.size(), nullptr);
  for (std::size_t i = 0; i < params.size(); ++i) {
    for (std::size_t s = 0; s < slots_.size(); ++s) {
      auto [it, inserted] = buffers_.try_emplace(key(params[i].name, s));
      if (inserted) {
        it->second.assign(params[i].size, 0.0f);
        created_[i] = true;
      }
      bound_[i * slots_.size() + s] = it->second.data();
    }
  }
  checked_ = std::move(shapes);
  checked_valid_ = true;
}

void buffer_store::assign(std::map<std::string, std::vector<float>> buffers, bool allow_missing) {
  if (!checked_.empty())
    check(checked_, buffers, allow_missing); // Parameters already seen: refuse a mismatch right away.
  buffers_ = std::move(buffers);
  bound_.clear();
  checked_valid_ = false;
}

} // namespace troupe::optim
