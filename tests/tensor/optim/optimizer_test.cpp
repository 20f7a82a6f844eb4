#include "tensor/optim/optimizer.hpp"

#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <vector>

#include <catch2/catch.hpp>

#include "error_message.hpp"
#include "tensor/optim/adam.hpp"
#include "tensor/optim/sgd.hpp"

using Catch::Matchers::Contains;
using troupe::optim::adam;
using troupe::optim::adam_options;
using troupe::optim::optimizer;
using troupe::optim::optimizer_state;
using troupe::optim::param_slot;
using troupe::optim::read_optimizer_state;
using troupe::optim::sgd;
using troupe::optim::sgd_options;
using troupe::optim::write_optimizer_state;
using troupe::optim::test::error_message;

namespace {

std::unique_ptr<optimizer> make_optimizer(int which) {
  switch (which) {
  case 0:
    return std::make_unique<sgd>();
  case 1:
    return std::make_unique<sgd>(sgd_options{0.9f, 0.1f, 1e-4f, false});
  case 2:
    return std::make_unique<sgd>(sgd_options{0.9f, 0.0f, 5e-4f, true});
  case 3:
    return std::make_unique<adam>(adam_options{0.9f, 0.999f, 1e-8f, 1e-2f, false});
  default:
    return std::make_unique<adam>(adam_options{0.8f, 0.99f, 1e-6f, 1e-2f, true});
  }
}

/// A toy model: two named parameters whose gradients depend on the parameters and the step.
struct toy_model {
  std::vector<float> a{0.5f, -1.25f, 2.0f, 0.0f, 3.5f};
  std::vector<float> b{1.0f, -0.5f, 0.25f};
  std::vector<float> ga = std::vector<float>(5);
  std::vector<float> gb = std::vector<float>(3);

  std::vector<param_slot> params() {
    return {{"a", a.data(), ga.data(), a.size()}, {"b", b.data(), gb.data(), b.size()}};
  }

  // The step enters only through + and exact /4: were it multiplied, a call site where the
  // compiler knows the step could fold the product while another fuses it into an FMA, and the
  // "same" gradient would differ by an ulp between the runs being compared.
  void compute_gradients(std::size_t step) {
    const float s = static_cast<float>(step);
    for (std::size_t i = 0; i < a.size(); ++i)
      ga[i] = std::sin(a[i] * 1.7f + s) + 0.1f * a[i];
    for (std::size_t i = 0; i < b.size(); ++i)
      gb[i] = std::cos(b[i] - s / 4.0f) * b[i];
  }

  void train(optimizer& opt, std::size_t from, std::size_t to) {
    for (std::size_t step = from; step < to; ++step) {
      compute_gradients(step);
      opt.step(params(), 0.05f / static_cast<float>(1 + step));
    }
  }
};

bool bitwise_equal(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0);
}

/// The state of an optimizer of `which` after one step on parameters {name: size}.
optimizer_state state_after_one_step(int which, const std::vector<std::pair<std::string, std::size_t>>& shapes) {
  std::vector<std::vector<float>> values;
  std::vector<param_slot> params;
  for (const auto& [name, size] : shapes)
    values.emplace_back(size, 1.0f);
  for (std::size_t i = 0; i < shapes.size(); ++i)
    params.push_back({shapes[i].first, values[i].data(), values[i].data(), shapes[i].second});
  auto opt = make_optimizer(which);
  opt->step(params, 0.1f);
  return opt->state();
}

} // namespace

TEST_CASE("optim optimizer: resuming from a serialized state is bitwise identical", "[tensor][optim]") {
  const int which = GENERATE(0, 1, 2, 3, 4);
  CAPTURE(which);
  constexpr std::size_t total = 12;
  constexpr std::size_t stop = 5;

  toy_model uninterrupted;
  auto reference = make_optimizer(which);
  uninterrupted.train(*reference, 0, total);

  toy_model first;
  auto before = make_optimizer(which);
  first.train(*before, 0, stop);
  std::stringstream checkpoint;
  write_optimizer_state(checkpoint, before->state());
  before.reset();

  toy_model resumed; // The parameters come from the model checkpoint, saved alongside.
  resumed.a = first.a;
  resumed.b = first.b;
  auto after = make_optimizer(which);
  after->load_state(read_optimizer_state(checkpoint));
  CHECK(after->steps() == stop);
  resumed.train(*after, stop, total);

  CHECK(bitwise_equal(resumed.a, uninterrupted.a));
  CHECK(bitwise_equal(resumed.b, uninterrupted.b));
  CHECK(after->steps() == total);
  const auto want = reference->state();
  const auto got = after->state();
  REQUIRE(got.buffers.size() == want.buffers.size());
  for (const auto& [name, values] : want.buffers) {
    CAPTURE(name);
    CHECK(bitwise_equal(got.buffers.at(name), values));
  }
}

TEST_CASE("optim optimizer: load_state refuses another kind", "[tensor][optim]") {
  const auto sgd_state = state_after_one_step(1, {{"w", 2}});
  adam opt;
  CHECK_THAT(error_message([&] { opt.load_state(sgd_state); }),
             Contains("'sgd' optimizer state into a 'adam' optimizer"));
  adam adamw(adam_options{0.9f, 0.999f, 1e-8f, 0.01f, true});
  CHECK_THROWS_AS(adamw.load_state(state_after_one_step(3, {{"w", 2}})), troupe::error);
  CHECK(opt.steps() == 0);
}

TEST_CASE("optim optimizer: load_state refuses buffers that do not fit the parameters", "[tensor][optim]") {
  const int which = GENERATE(1, 3); // sgd with momentum, adam
  CAPTURE(which);
  const auto saved = state_after_one_step(which, {{"w", 2}, {"bias", 1}});
  std::vector<float> w(3, 0.5f), bias(1, 0.5f), other(2, 0.5f);
  auto opt = make_optimizer(which);

  SECTION("size mismatch, found at the next step") {
    opt->load_state(saved);
    const std::vector<param_slot> params{{"w", w.data(), w.data(), 3}, {"bias", bias.data(), bias.data(), 1}};
    CHECK_THAT(error_message([&] { opt->step(params, 0.1f); }),
               Contains("parameter 'w' has 3") && Contains("holds 2 floats"));
    CHECK(w == std::vector<float>(3, 0.5f));
  }
  SECTION("size mismatch, found at once when parameters were already seen") {
    const std::vector<param_slot> params{{"w", w.data(), w.data(), 3}, {"bias", bias.data(), bias.data(), 1}};
    opt->step(params, 0.1f);
    const auto before = opt->state();
    CHECK_THAT(error_message([&] { opt->load_state(saved); }), Contains("parameter 'w'"));
    CHECK(opt->steps() == 1);
    CHECK(opt->state().buffers == before.buffers); // Unchanged by the refused load.
  }
  SECTION("parameter missing from the state") {
    opt->load_state(saved);
    const std::vector<param_slot> params{{"other", other.data(), other.data(), 2},
                                         {"bias", bias.data(), bias.data(), 1}};
    CHECK_THAT(error_message([&] { opt->step(params, 0.1f); }),
               Contains("no buffer 'other.") && Contains("parameter 'other'"));
  }
  SECTION("state holds a parameter that is not optimized") {
    opt->load_state(saved);
    const std::vector<param_slot> params{{"w", other.data(), other.data(), 2}};
    CHECK_THAT(error_message([&] { opt->step(params, 0.1f); }), Contains("buffer 'bias."));
  }
}

TEST_CASE("optim optimizer: a state saved before the first step loads anywhere", "[tensor][optim]") {
  auto fresh = make_optimizer(3);
  const auto empty = fresh->state();
  CHECK(empty.step == 0);
  CHECK(empty.buffers.empty());
  adam opt(adam_options{0.9f, 0.999f, 1e-8f, 1e-2f, false});
  opt.load_state(empty);
  std::vector<float> w(4, 1.0f);
  opt.step({{"w", w.data(), w.data(), 4}}, 0.1f);
  CHECK(opt.steps() == 1);
}

TEST_CASE("optim optimizer: momentum state does not load into momentum-free sgd", "[tensor][optim]") {
  const auto with_momentum = state_after_one_step(1, {{"w", 2}});
  std::vector<float> w(2, 1.0f);
  SECTION("buffers a plain sgd does not keep") {
    sgd plain;
    plain.load_state(with_momentum);
    CHECK_THAT(error_message([&] {
                 plain.step({{"w", w.data(), w.data(), 2}}, 0.1f);
               }),
               Contains("'w.momentum_buffer'") && Contains("slots kept per parameter: none"));
  }
  SECTION("no buffers for a momentum sgd past step 0") {
    sgd momentum({0.9f});
    momentum.load_state(state_after_one_step(0, {{"w", 2}}));
    CHECK_THAT(error_message([&] {
                 momentum.step({{"w", w.data(), w.data(), 2}}, 0.1f);
               }),
               Contains("no buffer 'w.momentum_buffer'"));
  }
}
