#pragma once
/// The per-parameter buffers an optimizer keeps between steps (momentum, Adam moments).

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "tensor/optim/param_slot.hpp"

namespace troupe::optim {

/// For every parameter, one float buffer per slot, keyed "<parameter>.<slot>" and sized like it.
///
/// bind() checks the parameters against the buffers before any update touches them, so a step
/// that throws leaves parameters and buffers unchanged. Names and sizes accepted once are
/// remembered, and steps with the same parameter list skip the full check.
class buffer_store {
public:
  /// A store that keeps the buffers named by `slots` (e.g. {"exp_avg", "exp_avg_sq"}; may be empty).
  explicit buffer_store(std::vector<std::string> slots);

  /// Checks `params` (named, unique, non-null, sized like their buffers; no buffer left over)
  /// and binds their buffers to indices; missing buffers are zero-filled if `create`, else an error.
  void bind(const std::vector<param_slot>& params, bool create);

  /// The buffer of slot `slot` for the parameter at index `param` of the last bind().
  float* at(std::size_t param, std::size_t slot) { return bound_[param * slots_.size() + slot]; }

  /// Whether the last bind() created the buffers of the parameter at index `param`.
  bool created(std::size_t param) const { return created_[param]; }

  /// All buffers by key.
  const std::map<std::string, std::vector<float>>& buffers() const { return buffers_; }

  /// Replaces all buffers; checks them now against the last bound parameters if there were any
  /// (throwing and keeping the old buffers on a mismatch), otherwise at the next bind().
  void assign(std::map<std::string, std::vector<float>> buffers, bool allow_missing);

private:
  struct param_shape {
    std::string name;
    std::size_t size;
  };

  /// Throws unless `buffers` fits `params` exactly, up to missing buffers when `allow_missing`.
  void check(const std::vector<param_shape>& params, const std::map<std::string, std::vector<float>>& buffers,
             bool allow_missing) const;
  bool same_as_checked(const std::vector<param_slot>& params) const;
  std::string key(const std::string& param, std::size_t slot) const { return param + "." + slots_[slot]; }

  std::vector<std::string> slots_;
  std::map<std::string, std::vector<float>> buffers_;
  std::vector<param_shape> checked_; ///< Parameters the current buffers were last checked against.
  bool checked_valid_ = false;       ///< False after assign() until the next successful bind().
  std::vector<float*> bound_;        ///< [params × slots], row-major, into buffers_.
  std::vector<bool> created_;        ///< [params]
};

} // namespace troupe::optim
