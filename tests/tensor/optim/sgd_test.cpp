#include "tensor/optim/sgd.hpp"

#include <vector>

#include <catch2/catch.hpp>

#include "error_message.hpp"

using Catch::Matchers::Contains;
using troupe::optim::param_slot;
using troupe::optim::sgd;
using troupe::optim::sgd_options;
using troupe::optim::test::error_message;

// Every value below is a short binary fraction, so float arithmetic is exact and the
// hand-computed results are compared with ==.

TEST_CASE("optim sgd: plain step is p -= lr*g", "[tensor][optim][sgd]") {
  std::vector<float> p{1.0f, -2.0f};
  std::vector<float> g{0.5f, 0.25f};
  const std::vector<param_slot> params{{"w", p.data(), g.data(), p.size()}};
  sgd opt;

  opt.step(params, 0.5f);
  // p = 1 - 0.5*0.5 = 0.75;  -2 - 0.5*0.25 = -2.125
  CHECK(p == std::vector<float>{0.75f, -2.125f});

  g = {1.0f, -1.0f};
  opt.step(params, 0.5f);
  // p = 0.75 - 0.5*1 = 0.25;  -2.125 + 0.5*1 = -1.625
  CHECK(p == std::vector<float>{0.25f, -1.625f});
  CHECK(opt.steps() == 2);
  CHECK(opt.state().buffers.empty()); // No momentum, no buffer.
}

TEST_CASE("optim sgd: momentum buffer starts as the first gradient", "[tensor][optim][sgd]") {
  std::vector<float> p{1.0f};
  std::vector<float> g{1.0f};
  const std::vector<param_slot> params{{"w", p.data(), g.data(), 1}};
  sgd opt({/*momentum=*/0.5f});

  opt.step(params, 0.5f);
  // buf = d = 1;  p = 1 - 0.5*1 = 0.5
  CHECK(opt.state().buffers.at("w.momentum_buffer") == std::vector<float>{1.0f});
  CHECK(p[0] == 0.5f);

  g[0] = 0.5f;
  opt.step(params, 0.5f);
  // buf = 0.5*1 + 0.5 = 1;  p = 0.5 - 0.5*1 = 0
  CHECK(p[0] == 0.0f);

  g[0] = 0.25f;
  opt.step(params, 0.5f);
  // buf = 0.5*1 + 0.25 = 0.75;  p = 0 - 0.5*0.75 = -0.375
  CHECK(opt.state().buffers.at("w.momentum_buffer") == std::vector<float>{0.75f});
  CHECK(p[0] == -0.375f);
}

TEST_CASE("optim sgd: dampening scales the gradient after the first step only", "[tensor][optim][sgd]") {
  std::vector<float> p{0.0f};
  std::vector<float> g{2.0f};
  const std::vector<param_slot> params{{"w", p.data(), g.data(), 1}};
  sgd opt({/*momentum=*/0.5f, /*dampening=*/0.5f});

  opt.step(params, 1.0f);
  // First step: buf = d = 2 (not (1-0.5)*2);  p = 0 - 2 = -2
  CHECK(p[0] == -2.0f);

  g[0] = 1.0f;
  opt.step(params, 1.0f);
  // buf = 0.5*2 + (1-0.5)*1 = 1.5;  p = -2 - 1.5 = -3.5
  CHECK(p[0] == -3.5f);

  g[0] = 0.5f;
  opt.step(params, 1.0f);
  // buf = 0.5*1.5 + 0.5*0.5 = 1;  p = -3.5 - 1 = -4.5
  CHECK(p[0] == -4.5f);
}

TEST_CASE("optim sgd: nesterov steps along d + momentum*buf", "[tensor][optim][sgd]") {
  std::vector<float> p{0.0f};
  std::vector<float> g{1.0f};
  const std::vector<param_slot> params{{"w", p.data(), g.data(), 1}};
  sgd_options o;
  o.momentum = 0.5f;
  o.nesterov = true;
  sgd opt(o);

  opt.step(params, 1.0f);
  // buf = 1;  d = 1 + 0.5*1 = 1.5;  p = -1.5
  CHECK(p[0] == -1.5f);

  opt.step(params, 1.0f);
  // buf = 0.5*1 + 1 = 1.5;  d = 1 + 0.5*1.5 = 1.75;  p = -1.5 - 1.75 = -3.25
  CHECK(p[0] == -3.25f);

  g[0] = 0.0f;
  opt.step(params, 1.0f);
  // buf = 0.5*1.5 + 0 = 0.75;  d = 0 + 0.5*0.75 = 0.375;  p = -3.25 - 0.375 = -3.625
  CHECK(p[0] == -3.625f);
}

TEST_CASE("optim sgd: weight decay adds wd*p to the gradient", "[tensor][optim][sgd]") {
  std::vector<float> p{2.0f};
  std::vector<float> g{1.0f};
  const std::vector<param_slot> params{{"w", p.data(), g.data(), 1}};

  SECTION("without momentum") {
    sgd_options o;
    o.weight_decay = 0.5f;
    sgd opt(o);
    opt.step(params, 0.5f);
    // d = 1 + 0.5*2 = 2;  p = 2 - 0.5*2 = 1
    CHECK(p[0] == 1.0f);
    opt.step(params, 0.5f);
    // d = 1 + 0.5*1 = 1.5;  p = 1 - 0.5*1.5 = 0.25
    CHECK(p[0] == 0.25f);
  }
  SECTION("with momentum") {
    sgd_options o;
    o.momentum = 0.5f;
    o.weight_decay = 0.5f;
    sgd opt(o);
    opt.step(params, 0.5f);
    // d = 1 + 0.5*2 = 2;  buf = 2;  p = 2 - 0.5*2 = 1
    CHECK(p[0] == 1.0f);
    opt.step(params, 0.5f);
    // d = 1 + 0.5*1 = 1.5;  buf = 0.5*2 + 1.5 = 2.5;  p = 1 - 0.5*2.5 = -0.25
    CHECK(p[0] == -0.25f);
  }
}

TEST_CASE("optim sgd: several parameters keep separate buffers", "[tensor][optim][sgd]") {
  std::vector<float> a{1.0f, 1.0f};
  std::vector<float> b{0.0f};
  std::vector<float> ga{1.0f, 2.0f};
  std::vector<float> gb{4.0f};
  const std::vector<param_slot> params{{"a", a.data(), ga.data(), 2}, {"b", b.data(), gb.data(), 1}};
  sgd opt({/*momentum=*/0.5f});
  opt.step(params, 0.25f);
  opt.step(params, 0.25f);
  // a: buf 1 then 1.5 -> 1 - 0.25*(1 + 1.5) = 0.375;  buf 2 then 3 -> 1 - 0.25*(2 + 3) = -0.25
  // b: buf 4 then 6   -> 0 - 0.25*(4 + 6) = -2.5
  CHECK(a == std::vector<float>{0.375f, -0.25f});
  CHECK(b[0] == -2.5f);
  const auto state = opt.state();
  CHECK(state.kind == "sgd");
  CHECK(state.step == 2);
  CHECK(state.buffers.at("a.momentum_buffer") == std::vector<float>{1.5f, 3.0f});
  CHECK(state.buffers.at("b.momentum_buffer") == std::vector<float>{6.0f});
}

TEST_CASE("optim sgd: invalid options are rejected", "[tensor][optim][sgd]") {
  SECTION("nesterov without momentum") {
    sgd_options o;
    o.nesterov = true;
    CHECK_THAT(error_message([&] { sgd{o}; }), Contains("nesterov requires momentum > 0"));
  }
  SECTION("nesterov with dampening") {
    sgd_options o;
    o.momentum = 0.9f;
    o.dampening = 0.1f;
    o.nesterov = true;
    CHECK_THAT(error_message([&] { sgd{o}; }), Contains("dampening == 0"));
  }
  SECTION("negative momentum") {
    CHECK_THAT(error_message([] { sgd{{-0.1f}}; }), Contains("momentum"));
  }
  SECTION("negative weight decay") {
    sgd_options o;
    o.weight_decay = -1.0f;
    CHECK_THAT(error_message([&] { sgd{o}; }), Contains("weight_decay"));
  }
}

TEST_CASE("optim sgd: a bad step leaves parameters untouched", "[tensor][optim][sgd]") {
  std::vector<float> p{1.0f};
  std::vector<float> g{1.0f};
  sgd opt({0.9f});
  SECTION("negative learning rate") {
    const std::vector<param_slot> params{{"w", p.data(), g.data(), 1}};
    CHECK_THAT(error_message([&] { opt.step(params, -0.1f); }), Contains("learning rate"));
  }
  SECTION("duplicate parameter names") {
    const std::vector<param_slot> params{{"w", p.data(), g.data(), 1}, {"w", p.data(), g.data(), 1}};
    CHECK_THAT(error_message([&] { opt.step(params, 0.1f); }), Contains("'w' is used twice"));
  }
  SECTION("null gradient") {
    const std::vector<param_slot> params{{"w", p.data(), nullptr, 1}};
    CHECK_THAT(error_message([&] { opt.step(params, 0.1f); }), Contains("'w'") && Contains("null gradient"));
  }
  CHECK(p[0] == 1.0f);
  CHECK(opt.steps() == 0);
  CHECK(opt.state().buffers.empty());
}
