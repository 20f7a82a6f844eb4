#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/rng.hpp"
#include "config/model_spec.hpp"
#include "data/dataset.hpp"
#include "tensor/optim/lr_schedule.hpp"
#include "tensor/optim/sgd.hpp"
#include "train/checkpoint_store.hpp"
#include "train/gradient_engine.hpp"
#include "train/model_file.hpp"

#include "train_test_util.hpp"

using namespace troupe;

namespace {

constexpr std::size_t total_steps = 12;

optim::lr_schedule_options cosine() {
  optim::lr_schedule_options o;
  o.kind = "cosine";
  o.base_lr = 0.05f;
  o.min_lr = 0.001f;
  o.warmup_steps = 3;
  return o;
}

/// A toy training run: two named parameters, SGD with momentum, a warmed-up cosine schedule and
/// gradient noise from a seeded rng, so that every part of the state matters for the result.
struct toy_run {
  nn::param_layout layout;
  std::vector<float> params{0.5f, -1.25f, 2.0f, 0.0f, 3.5f, 1.0f, -0.5f, 0.25f};
  std::vector<float> grad = std::vector<float>(8);
  optim::sgd opt{optim::sgd_options{0.9f, 0.1f, 5e-4f, false}};
  optim::lr_schedule schedule{cosine()};
  rng noise{42};
  std::uint64_t global_step = 0;

  toy_run() {
    layout.entries = {{"a", {5}, 0, 5}, {"b", {3}, 5, 3}};
    layout.total = 8;
  }

  // The step enters only through + and exact /4: were it multiplied, a call site where the
  // compiler knows the step could fold the product while another fuses it into an FMA, and the
  // "same" gradient would differ by an ulp between the runs being compared.
  void compute_gradients() {
    const float s = static_cast<float>(global_step);
    for (std::size_t i = 0; i < 5; ++i)
      grad[i] = std::sin(params[i] * 1.7f + s) + 0.1f * params[i] + static_cast<float>(noise.uniform());
    for (std::size_t i = 5; i < 8; ++i)
      grad[i] = std::cos(params[i] - s / 4.0f) * params[i] - static_cast<float>(noise.uniform());
  }

  void train(std::size_t steps) {
    for (std::size_t k = 0; k < steps; ++k) {
      compute_gradients();
      std::vector<optim::param_slot> slots;
      for (const auto& e : layout.entries)
        slots.push_back({e.name, params.data() + e.offset, grad.data() + e.offset, e.size});
      opt.step(slots, schedule.lr_at(global_step, 4, total_steps));
      ++global_step;
    }
  }

  train::training_state snapshot() const {
    train::training_state s;
    s.model_name = "toy";
    s.layout = layout;
    s.params = params;
    s.optimizer = opt.state();
    s.global_step = global_step;
    s.rng_states = {noise.state()};
    return s;
  }

  void restore(const train::training_state& s) {
    params = s.params;
    opt.load_state(s.optimizer);
    global_step = s.global_step;
    noise.set_state(s.rng_states.at(0));
  }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

TEST_CASE("resuming from a checkpoint continues bitwise as if never stopped", "[train][checkpoint]") {
  const std::size_t stop = GENERATE(1, 5, 11);
  CAPTURE(stop);
  toy_run uninterrupted;
  uninterrupted.train(total_steps);
  REQUIRE_FALSE(same_bits(uninterrupted.params, toy_run().params));

  test::scratch_dir dir("ckpt-resume");
  train::checkpoint_store store(dir.path.string(), 2);
  {
    toy_run first;
    first.train(stop);
    store.save(first.snapshot());
  } // The process dies here: nothing survives but the checkpoint.

  toy_run resumed;
  const auto loaded = store.load_latest("toy", resumed.layout);
  REQUIRE(loaded);
  CHECK(loaded->skipped.empty());
  resumed.restore(loaded->state);
  CHECK(resumed.opt.steps() == stop);
  resumed.train(total_steps - stop);

  CHECK(same_bits(resumed.params, uninterrupted.params));
  const auto want = uninterrupted.opt.state();
  const auto got = resumed.opt.state();
  CHECK(got.step == want.step);
  REQUIRE(got.buffers.size() == want.buffers.size());
  for (const auto& [name, values] : want.buffers) {
    CAPTURE(name);
    CHECK(same_bits(got.buffers.at(name), values));
  }

  SECTION("every restored field matters: dropping the schedule position or the RNG state diverges") {
    toy_run no_step, no_rng;
    no_step.restore(loaded->state);
    no_step.global_step = 0;
    no_step.train(total_steps - stop);
    no_rng.restore(loaded->state);
    no_rng.noise = rng(42);
    no_rng.train(total_steps - stop);
    CHECK_FALSE(same_bits(no_step.params, uninterrupted.params));
    CHECK_FALSE(same_bits(no_rng.params, uninterrupted.params));
  }
}

namespace {

/// A batch-norm model trained as the aggregator does: SGD steps the parameters, the running
/// statistics (the layout's buffers) move by the engine's update. 8 fixed batches of 8 images.
struct bn_run {
  config::model_spec spec = config::parse_model_spec(R"(name: bn-toy
input: [1, 28, 28]
layers:
  - conv2d: {out_channels: 3, kernel: 3, stride: 2}
  - batchnorm2d
  - relu
  - flatten
  - dense: {units: 10}
loss: softmax_cross_entropy
)",
                                                     "bn-toy.yaml");
  data::dataset ds = data::load_fashion_mnist(data::fashion_mnist::default_dir, true, {}, 64);
  train::gradient_engine engine{spec, 7, 1};
  std::vector<float> params = engine.initial_parameters();
  std::vector<float> grad = std::vector<float>(params.size());
  optim::sgd opt{optim::sgd_options{0.9f, 0.1f, 5e-4f, false}};
  optim::lr_schedule schedule{cosine()};
  std::uint64_t global_step = 0;

  void train(std::size_t steps) {
    for (std::size_t k = 0; k < steps; ++k) {
      const std::size_t b = global_step % 8;
      engine.compute(params.data(), ds.images.data() + b * 8 * 28 * 28, ds.labels.data() + b * 8, 8, grad.data());
      std::vector<optim::param_slot> slots;
      for (const auto& e : engine.layout().entries)
        if (!e.buffer)
          slots.push_back({e.name, params.data() + e.offset, grad.data() + e.offset, e.size});
      opt.step(slots, schedule.lr_at(global_step, 4, total_steps));
      nn::apply_buffer_updates(engine.layout(), params.data(), grad.data(), 1.0f);
      ++global_step;
    }
  }

  train::training_state snapshot() const {
    train::training_state s;
    s.model_name = spec.name;
    s.layout = engine.layout();
    s.params = params;
    s.optimizer = opt.state();
    s.global_step = global_step;
    return s;
  }
};

} // namespace

TEST_CASE("a batch-norm run resumes bitwise, running statistics included", "[train][checkpoint][batch_norm]") {
  const std::size_t stop = GENERATE(3, 7);
  CAPTURE(stop);
  bn_run uninterrupted;
  const auto initial = uninterrupted.params;
  uninterrupted.train(total_steps);
  const auto& layout = uninterrupted.engine.layout();
  // The running statistics moved, and they are in the vector a checkpoint keeps.
  bool stats_moved = false;
  for (const auto& e : layout.entries)
    if (e.buffer && e.name.find("running_") != std::string::npos)
      for (std::size_t i = e.offset; i < e.offset + e.size; ++i)
        stats_moved = stats_moved || uninterrupted.params[i] != initial[i];
  REQUIRE(stats_moved);

  test::scratch_dir dir("ckpt-resume-bn");
  train::checkpoint_store store(dir.path.string(), 2);
  {
    bn_run first;
    first.train(stop);
    store.save(first.snapshot());
  }
  bn_run resumed;
  const auto loaded = store.load_latest(resumed.spec.name, resumed.engine.layout());
  REQUIRE(loaded);
  resumed.params = loaded->state.params;
  resumed.opt.load_state(loaded->state.optimizer);
  resumed.global_step = loaded->state.global_step;
  resumed.train(total_steps - stop);
  CHECK(same_bits(resumed.params, uninterrupted.params));

  // The saved model and the .npz carry the same running statistics, under PyTorch's names.
  train::save_model((dir.path / "model.trpm").string(), {resumed.spec.name, layout, resumed.params});
  const auto saved = train::load_model((dir.path / "model.trpm").string());
  layout.require_same(saved.layout, "model.trpm");
  CHECK(same_bits(saved.params, uninterrupted.params));
  REQUIRE(std::any_of(saved.layout.entries.begin(), saved.layout.entries.end(),
                      [](const nn::param_entry& e) { return e.name == "1.running_var"; }));
}
