#pragma once
/// Classification metrics: top-k accuracy counts and a running average.

#include <cstddef>
#include <cstdint>
#include <string>

namespace troupe::optim {

/// Counts samples whose label ranks among the k highest logits.
///
/// `logits` is [n, classes] row-major and `labels` is [n]. The rank of a label is the number of
/// classes whose logit is greater, or equal with a lower index (a stable descending sort, so top-1
/// is the first argmax); a sample is correct iff rank < k. A NaN logit ranks above every number
/// (as in torch.topk), and a sample whose label logit is NaN is never correct.
/// Throws if k == 0, classes == 0 while n > 0, or a label is outside [0, classes).
std::size_t topk_correct(const float* logits, const std::int32_t* labels, std::size_t n, std::size_t classes,
                         std::size_t k);

/// The latest value and the count-weighted running average of a metric (the ImageNet example's AverageMeter).
class average_meter {
public:
  /// An empty meter called `name`.
  explicit average_meter(std::string name = {});

  /// Forgets every update.
  void reset();

  /// Records `value` as the mean of `n` samples.
  void update(double value, std::size_t n = 1);

  /// The last value passed to update(), or 0.
  double val() const { return val_; }

  /// sum() / count(), or 0 before any sample.
  double avg() const { return avg_; }

  /// Σ value·n over all updates.
  double sum() const { return sum_; }

  /// Σ n over all updates.
  std::size_t count() const { return count_; }

  /// The name given at construction.
  const std::string& name() const { return name_; }

private:
  std::string name_;
  double val_ = 0;
  double avg_ = 0;
  double sum_ = 0;
  std::size_t count_ = 0;
};

} // namespace troupe::optim
