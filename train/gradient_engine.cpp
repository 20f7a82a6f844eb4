#include "train/gradient_engine.hpp"

#include <algorithm>
#include <limits>
#include <mutex>
#include <unordered_map>

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
                                           bool train, const std::function<void(const batch_stats&)>& after_forward,
                                           const tensor::leaf_ready_fn& on_leaf) {
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
    if (after_forward)
      after_forward(s);
    nn::zero_grads(*r.model);
    loss.backward_reporting_leaves(on_leaf);
  }
  return s;
}

batch_stats gradient_engine::compute(const float* params, const float* images, const std::int32_t* labels,
                                     std::size_t n, float* grad) {
  return compute(params, images, labels, n, grad, gradient_pieces{{0}, nullptr});
}

batch_stats gradient_engine::compute(const float* params, const float* images, const std::int32_t* labels,
                                     std::size_t n, float* grad, const gradient_pieces& pieces) {
  TROUPE_ENFORCE(n > 0, "compute() on an empty batch");
  const auto& begins = pieces.begins;
  TROUPE_ENFORCE(!begins.empty() && begins.front() == 0 && std::is_sorted(begins.begin(), begins.end()) &&
                     std::adjacent_find(begins.begin(), begins.end()) == begins.end() && begins.back() < layout_.total,
                 "gradient pieces must start at 0 and at strictly ascending offsets below {}", layout_.total);
  const std::size_t t_count = std::min(replicas_.size(), n);
  const std::size_t image_size = tensor::numel(input_shape_);
  const auto& entries = layout_.entries; // the parameters first, in module::parameters() order

  // Each thread says from which offset on its slice's gradient is final; a piece is summed (over
  // the threads, in the fixed order: deterministic sums) and reported once every thread is past it.
  std::mutex mu;
  std::vector<std::size_t> final_from(t_count, std::numeric_limits<std::size_t>::max());
  std::size_t unreported = begins.size(); // pieces [0, unreported) are not reported yet
  batch_stats total;
  auto publish = [&](std::size_t t, std::size_t from) {
    std::lock_guard<std::mutex> lock(mu);
    final_from[t] = from;
    const std::size_t all = *std::max_element(final_from.begin(), final_from.end());
    while (unreported > 0 && begins[unreported - 1] >= all) {
      if (unreported == begins.size()) // the first piece: every thread is past its forward pass
        for (std::size_t u = 0; u < t_count; ++u)
          total += replicas_[u].stats;
      const std::size_t piece = --unreported;
      const std::size_t lo = begins[piece], hi = piece + 1 < begins.size() ? begins[piece + 1] : layout_.total;
      std::fill(grad + lo, grad + hi, 0.0f);
      for (std::size_t u = 0; u < t_count; ++u) {
        const float* g = replicas_[u].grad.data();
        for (std::size_t i = lo; i < hi; ++i)
          grad[i] += g[i];
      }
      if (pieces.ready)
        pieces.ready(piece, total);
    }
  };

  pool_.run([&](std::size_t t) {
    replica& r = replicas_[t];
    r.stats = {};
    if (t >= t_count)
      return;
    const std::size_t lo = n * t / t_count, hi = n * (t + 1) / t_count;
    nn::scatter_values(*r.model, params);
    // The slice's loss is a mean over hi − lo samples: weight it by its share of the batch.
    const float share = static_cast<float>(hi - lo) / static_cast<float>(n);
    const auto model_params = r.model->parameters();
    std::unordered_map<const tensor::node*, std::size_t> entry_of;
    for (std::size_t j = 0; j < model_params.size(); ++j)
      entry_of.emplace(model_params[j].param.get().get(), j);
    std::vector<char> done(model_params.size(), 0);
    std::size_t final_entries = model_params.size(); // parameter entries [final_entries, end) are final
    auto after_forward = [&](const batch_stats& s) {
      r.stats = s;
      r.grad.assign(layout_.total, 0.0f);
      // Buffers (batch norm's running statistics): the slice's forward moved them from the values
      // read; the batch's update is the sample-weighted mean of the slices' updates.
      nn::accumulate_buffer_updates(*r.model, params, r.grad.data(), share);
      publish(t, layout_.params);
    };
    auto on_leaf = [&](const tensor::node& leaf) {
      const auto it = entry_of.find(&leaf);
      if (it == entry_of.end())
        return;
      const auto& e = entries[it->second];
      if (leaf.grad.size() == e.size) { // as nn::accumulate_grads: a parameter without a gradient adds nothing
        const float* src = leaf.grad.data();
        float* dst = r.grad.data() + e.offset;
        for (std::size_t i = 0; i < e.size; ++i)
          dst[i] += share * src[i];
      }
      done[it->second] = 1;
      const std::size_t before = final_entries;
      while (final_entries > 0 && done[final_entries - 1])
        --final_entries;
      if (final_entries != before)
        publish(t, final_entries < model_params.size() ? entries[final_entries].offset : layout_.params);
    };
    forward_slice(r, images + lo * image_size, labels + lo, hi - lo, true, after_forward, on_leaf);
    publish(t, 0); // parameters no leaf reported (unused by this model's graph) add nothing
  });
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
