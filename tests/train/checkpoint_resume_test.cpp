#include <cmath>
#include <cstring>

#include "common/rng.hpp"
#include "tensor/optim/lr_schedule.hpp"
#include "tensor/optim/sgd.hpp"
#include "train/checkpoint_store.hpp"

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
