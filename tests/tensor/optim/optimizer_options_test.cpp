#include "tensor/optim/optimizer_options.hpp"

#include <catch2/catch.hpp>

#include "error_message.hpp"
#include "tensor/optim/adam.hpp"
#include "tensor/optim/sgd.hpp"

using Catch::Matchers::Contains;
using troupe::optim::make_optimizer;
using troupe::optim::optimizer_options;
using troupe::optim::test::error_message;

TEST_CASE("make_optimizer builds the optimizer the options name", "[tensor][optim][optimizer_options]") {
  optimizer_options o;
  CHECK(make_optimizer(o)->kind() == "sgd"); // the default
  o.kind = "adam";
  CHECK(make_optimizer(o)->kind() == "adam");
  o.kind = "adamw";
  CHECK(make_optimizer(o)->kind() == "adamw");
}

TEST_CASE("make_optimizer passes every field of its kind on", "[tensor][optim][optimizer_options]") {
  optimizer_options o;
  o.momentum = 0.8f;
  o.dampening = 0.1f;
  o.nesterov = false;
  o.weight_decay = 5e-4f;
  o.beta1 = 0.7f;
  o.beta2 = 0.95f;
  o.eps = 1e-6f;
  SECTION("sgd") {
    const auto opt = make_optimizer(o);
    const auto* s = dynamic_cast<const troupe::optim::sgd*>(opt.get());
    REQUIRE(s != nullptr);
    CHECK(s->options().momentum == 0.8f);
    CHECK(s->options().dampening == 0.1f);
    CHECK_FALSE(s->options().nesterov);
    CHECK(s->options().weight_decay == 5e-4f);
  }
  SECTION("adamw") {
    o.kind = "adamw";
    const auto opt = make_optimizer(o);
    const auto* a = dynamic_cast<const troupe::optim::adam*>(opt.get());
    REQUIRE(a != nullptr);
    CHECK(a->options().beta1 == 0.7f);
    CHECK(a->options().beta2 == 0.95f);
    CHECK(a->options().eps == 1e-6f);
    CHECK(a->options().weight_decay == 5e-4f);
    CHECK(a->options().decoupled);
  }
}

TEST_CASE("make_optimizer names the valid kinds for an unknown one", "[tensor][optim][optimizer_options]") {
  optimizer_options o;
  o.kind = "rmsprop";
  CHECK_THAT(error_message([&] { make_optimizer(o); }),
             Contains("unknown optimizer 'rmsprop'") && Contains("sgd, adam or adamw"));
}
