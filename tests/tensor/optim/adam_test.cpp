#include "tensor/optim/adam.hpp"

#include <vector>

#include <catch2/catch.hpp>

#include "error_message.hpp"

using Catch::Matchers::Contains;
using troupe::optim::adam;
using troupe::optim::adam_options;
using troupe::optim::param_slot;
using troupe::optim::test::error_message;

namespace {

/// p0 = [1, -2]; g1 = [0.5, -1], g2 = [0.25, 2]; lr = 0.1; betas (0.9, 0.999), eps 1e-8.
struct two_steps {
  std::vector<float> p{1.0f, -2.0f};
  std::vector<float> g{0.5f, -1.0f};
  std::vector<param_slot> params{{"w", p.data(), g.data(), 2}};

  void run(adam& opt) {
    opt.step(params, 0.1f);
    g = {0.25f, 2.0f};
    opt.step(params, 0.1f);
  }
};

} // namespace

TEST_CASE("optim adam: two steps match hand-computed values", "[tensor][optim][adam]") {
  two_steps s;
  adam opt;
  opt.step(s.params, 0.1f);
  // t=1, element 0: m = 0.1*0.5 = 0.05;  v = 0.001*0.25 = 0.00025
  //   m̂ = 0.05/0.1 = 0.5;  v̂ = 0.00025/0.001 = 0.25;  p = 1 - 0.1*0.5/(0.5 + 1e-8) = 0.900000002
  // element 1: m = -0.1;  v = 0.001;  m̂ = -1;  v̂ = 1;  p = -2 + 0.1*1/(1 + 1e-8) = -1.900000001
  CHECK(s.p[0] == Approx(0.900000002).epsilon(1e-6));
  CHECK(s.p[1] == Approx(-1.900000001).epsilon(1e-6));

  s.g = {0.25f, 2.0f};
  opt.step(s.params, 0.1f);
  // t=2, 1 - β1² = 0.19, 1 - β2² = 0.001999
  // element 0: m = 0.9*0.05 + 0.1*0.25 = 0.07;  v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225
  //   m̂ = 0.07/0.19 = 0.3684211;  v̂ = 0.00031225/0.001999 = 0.1562031, √ = 0.3952254
  //   p = 0.9 - 0.1*0.3684211/0.3952254 = 0.9 - 0.0932180 = 0.8067820
  // element 1: m = 0.9*(-0.1) + 0.1*2 = 0.11;  v = 0.999*0.001 + 0.001*4 = 0.004999
  //   m̂ = 0.5789474;  v̂ = 2.5007504, √ = 1.5813761;  p = -1.9 - 0.1*0.5789474/1.5813761 = -1.9366104
  CHECK(s.p[0] == Approx(0.806782040).epsilon(1e-6));
  CHECK(s.p[1] == Approx(-1.936610353).epsilon(1e-6));

  const auto state = opt.state();
  CHECK(state.kind == "adam");
  CHECK(state.step == 2);
  CHECK(state.buffers.at("w.exp_avg")[0] == Approx(0.07).epsilon(1e-6));
  CHECK(state.buffers.at("w.exp_avg")[1] == Approx(0.11).epsilon(1e-6));
  CHECK(state.buffers.at("w.exp_avg_sq")[0] == Approx(0.00031225).epsilon(1e-6));
  CHECK(state.buffers.at("w.exp_avg_sq")[1] == Approx(0.004999).epsilon(1e-6));
}

TEST_CASE("optim adam: coupled weight decay adds wd*p to the gradient", "[tensor][optim][adam]") {
  adam_options o;
  o.weight_decay = 0.1f;
  adam opt(o);
  two_steps s;
  s.run(opt);
  // t=1: g = [0.5 + 0.1*1, -1 + 0.1*(-2)] = [0.6, -1.2]; with one step the update is ±lr:
  //   p = [0.9, -1.9]
  // t=2: g = [0.25 + 0.09, 2 - 0.19] = [0.34, 1.81]
  //   element 0: m = 0.9*0.06 + 0.1*0.34 = 0.088;  v = 0.999*0.00036 + 0.001*0.1156 = 0.00047524
  //     p = 0.9 - 0.1*(0.088/0.19)/sqrt(0.00047524/0.001999) = 0.9 - 0.0949902 = 0.8050098
  //   element 1: m = 0.9*(-0.12) + 0.1*1.81 = 0.073;  v = 0.999*0.00144 + 0.001*3.2761 = 0.00471466
  //     p = -1.9 - 0.1*(0.073/0.19)/sqrt(0.00471466/0.001999) = -1.9 - 0.0250179 = -1.9250179
  CHECK(s.p[0] == Approx(0.805009766).epsilon(1e-6));
  CHECK(s.p[1] == Approx(-1.925017878).epsilon(1e-6));
  CHECK(opt.kind() == "adam");
}

TEST_CASE("optim adam: decoupled weight decay (AdamW) shrinks p before the update", "[tensor][optim][adam]") {
  adam_options o;
  o.weight_decay = 0.1f;
  o.decoupled = true;
  adam opt(o);
  two_steps s;
  s.run(opt);
  // Moments as in the plain Adam case (the gradient is untouched); each step first does
  // p *= 1 - 0.1*0.1 = 0.99.
  // t=1: p = [0.99 - 0.1, -1.98 + 0.1] = [0.89, -1.88]
  // t=2: p = [0.89*0.99 - 0.0932180, -1.88*0.99 - 0.0366104] = [0.7878820, -1.8978104]
  CHECK(s.p[0] == Approx(0.787882040).epsilon(1e-6));
  CHECK(s.p[1] == Approx(-1.897810353).epsilon(1e-6));
  CHECK(opt.kind() == "adamw");
  CHECK(opt.state().kind == "adamw");
}

TEST_CASE("optim adam: invalid options are rejected", "[tensor][optim][adam]") {
  adam_options o;
  SECTION("beta1 of 1") {
    o.beta1 = 1.0f;
    CHECK_THAT(error_message([&] { adam{o}; }), Contains("beta1"));
  }
  SECTION("negative beta2") {
    o.beta2 = -0.5f;
    CHECK_THAT(error_message([&] { adam{o}; }), Contains("beta2"));
  }
  SECTION("negative eps") {
    o.eps = -1e-8f;
    CHECK_THAT(error_message([&] { adam{o}; }), Contains("eps"));
  }
  SECTION("negative weight decay") {
    o.weight_decay = -0.1f;
    CHECK_THAT(error_message([&] { adam{o}; }), Contains("weight_decay"));
  }
}
