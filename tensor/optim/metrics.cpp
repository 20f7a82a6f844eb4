#include "tensor/optim/metrics.hpp"

#include <cmath>
#include <utility>

#include "common/error.hpp"

namespace troupe::optim {

std::size_t topk_correct(const float* logits, const std::int32_t* labels, std::size_t n, std::size_t classes,
                         std::size_t k) {
  TROUPE_ENFORCE(k > 0, "topk_correct: k must be > 0");
  if (n == 0)
    return 0;
  TROUPE_ENFORCE(classes > 0, "topk_correct: classes must be > 0");
  TROUPE_ENFORCE(logits != nullptr && labels != nullptr, "topk_correct: null logits or labels for {} samples", n);

  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t label = labels[i];
    TROUPE_ENFORCE(label >= 0 && static_cast<std::size_t>(label) < classes,
                   "topk_correct: label {} of sample {} is outside [0, {})", label, i, classes);
    const float* row = logits + i * classes;
    const auto c = static_cast<std::size_t>(label);
    const float target = row[c];
    if (std::isnan(target))
      continue;
    // rank = #{j : row[j] > target, or row[j] == target and j < c, or row[j] is NaN (which
    // torch.topk sorts above every number)}; stop once it reaches k.
    std::size_t rank = 0;
    for (std::size_t j = 0; j < classes && rank < k; ++j)
      if (row[j] > target || (row[j] == target && j < c) || std::isnan(row[j]))
        ++rank;
    if (rank < k)
      ++correct;
  }
  return correct;
}

average_meter::average_meter(std::string name) : name_(std::move(name)) {}

void average_meter::reset() {
  val_ = 0;
  avg_ = 0;
  sum_ = 0;
  count_ = 0;
}

void average_meter::update(double value, std::size_t n) {
  val_ = value;
  sum_ += value * static_cast<double>(n);
  count_ += n;
  avg_ = count_ > 0 ? sum_ / static_cast<double>(count_) : 0.0;
}

} // namespace troupe::optim
