#include "train/gradient_engine.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "tensor/blas.hpp"
#include "tensor/ops/loss.hpp"
#include "tensor/optim/metrics.hpp"
#include "train/model_factory.hpp"

namespace troupe::train {

batch_stats& batch_stats::operator+=(const batch_stats& o) {
  loss_sum += o.loss_sum;
  correct1 += o.correct1;
  correct5 += o.correct5;
  n += o.n;
  return *this;
}

gradient_engine::gradient_engine(const config::model_spec& spec, std::uint64_t seed, std::size_t threads)
    : spec_(spec), input_shape_(spec.input_shape), classes_(config::num_outputs(spec)),
      pool_(std::max<std::size_t>(threads, 1)) {
  TROUPE_ENFORCE(spec.loss == "softmax_cross_entropy",
                 "the training engine supports the softmax_cross_entropy loss, "
                 "the model '{}' asks for '{}'",
                 spec.name, spec.loss);
  // The replicas own the cores; one BLAS thread each also keeps results independent of BLAS's
  // own partitioning (same seed and T -> bitwise the same run).
  tensor::blas::set_num_threads(1);
  for (std::size_t t = 0; t < pool_.size(); ++t) {
    replica r;
    r.model = build_model(spec, seed);
    replicas_.push_back(std::move(r));
  }
  layout_ = nn::layout_of(*replicas_[0].model);
}

std::vector<float> gradient_engine::initial_parameters() {
  std::vector<float> flat;
  nn::gather_values(*replicas_[0].model, flat);
  return flat;
}

std::string gradient_engine::describe() const {
  return replicas_[0].model->describe();
}

batch_stats gradient_engine::forward_slice(replica& r, const float* images, const std::int32_t* labels, std::size_t n,
                                           bool train) {
  batch_stats s;
  if (n == 0)
    return s;
  tensor::shape_t shape{n};
  shape.insert(shape.end(), input_shape_.begin(), input_shape_.end());
  tensor::array x = tensor::array::from_shape(shape);
  std::copy_n(images, x.size(), x.data());
  std::vector<std::int32_t> y(labels, labels + n);
  r.model->train(train);
  tensor::var logits = r.model->forward(tensor::var(std::move(x)));
  // Label smoothing shapes the training loss only; evaluation reports the plain one.
  tensor::var loss = train && spec_.label_smoothing > 0
                         ? tensor::softmax_cross_entropy(logits, y, spec_.label_smoothing)
                         : tensor::softmax_cross_entropy(logits, y);
  s.n = n;
  s.loss_sum = static_cast<double>(loss.value()()) * static_cast<double>(n);
  s.correct1 = optim::topk_correct(logits.value().data(), labels, n, classes_, 1);
  s.correct5 = optim::topk_correct(logits.value().data(), labels, n, classes_, std::min<std::size_t>(5, classes_));
  if (train) {
    nn::zero_grads(*r.model);
    loss.backward();
  }
  return s;
}

batch_stats gradient_engine::compute(const float* params, const float* images, const std::int32_t* labels,
                                     std::size_t n, float* grad) {
  TROUPE_ENFORCE(n > 0, "compute() on an empty batch");
  const std::size_t t_count = std::min(replicas_.size(), n);
  const std::size_t image_size = tensor::numel(input_shape_);
  pool_.run([&](std::size_t t) {
    replica& r = replicas_[t];
    r.stats = {};
    if (t >= t_count)
      return;
    const std::size_t lo = n * t / t_count, hi = n * (t + 1) / t_count;
    nn::scatter_values(*r.model, params);
    r.stats = forward_slice(r, images + lo * image_size, labels + lo, hi - lo, true);
    // The slice's loss is a mean over hi − lo samples: weight it by its share of the batch.
    const float share = static_cast<float>(hi - lo) / static_cast<float>(n);
    r.grad.assign(layout_.total, 0.0f);
    nn::accumulate_grads(*r.model, r.grad.data(), share);
    // Buffers (batch norm's running statistics): the slice's forward moved them from the values
    // read; the batch's update is the sample-weighted mean of the slices' updates.
    nn::accumulate_buffer_updates(*r.model, params, r.grad.data(), share);
  });
  batch_stats total;
  std::fill(grad, grad + layout_.total, 0.0f);
  for (std::size_t t = 0; t < t_count; ++t) { // fixed order: deterministic sums
    const float* g = replicas_[t].grad.data();
    for (std::size_t i = 0; i < layout_.total; ++i)
      grad[i] += g[i];
    total += replicas_[t].stats;
  }
  return total;
}

batch_stats gradient_engine::evaluate(const float* params, const float* images, const std::int32_t* labels,
                                      std::size_t n, std::size_t chunk) {
  const std::size_t image_size = tensor::numel(input_shape_);
  const std::size_t t_count = replicas_.size();
  pool_.run([&](std::size_t t) {
    replica& r = replicas_[t];
    r.stats = {};
    const std::size_t lo = n * t / t_count, hi = n * (t + 1) / t_count;
    if (lo == hi)
      return;
    nn::scatter_values(*r.model, params);
    tensor::no_grad_guard no_grad;
    for (std::size_t b = lo; b < hi; b += chunk) {
      const std::size_t cnt = std::min(chunk, hi - b);
      r.stats += forward_slice(r, images + b * image_size, labels + b, cnt, false);
    }
  });
  batch_stats total;
  for (auto& r : replicas_)
    total += r.stats;
  return total;
}

} // namespace troupe::train
