// The router: recipients from the header, messages for actors not started yet parked within
// bounds counted per sending node, names this node does not host refused at once.

#include "runtime/router.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "runtime/messages.hpp"

using namespace troupe;

namespace {

net::message to(std::vector<std::string> names, const std::string& sender = "t0") {
  net::message m(net::msg_type::heartbeat);
  m.h.sender = sender;
  m.h.to = std::move(names);
  return m;
}

struct count_state {
  std::size_t n = 0;
};

/// Counts the inbound messages it receives and answers how many on request.
caf::behavior counter(caf::stateful_actor<count_state>* self) {
  return {[=](runtime::inbound&) { ++self->state.n; }, [=](int) { return self->state.n; }};
}

std::size_t received(caf::actor_system& sys, const caf::actor& a) {
  caf::scoped_actor self{sys};
  std::size_t n = 0;
  self->request(a, caf::infinite, 0).receive([&](std::size_t got) { n = got; }, [](caf::error&) {});
  return n;
}

} // namespace

TEST_CASE("the router delivers by header, parks for actors not started yet, and refuses made-up names",
          "[runtime][router]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  runtime::router_limits lim;
  lim.max_parked_per_name = 3;
  lim.max_parked_names = 2;
  runtime::router r("agg", {"aggregator", "trainer-0", "trainer-1", "loader"}, lim);
  auto agg = sys.spawn(counter);
  r.add("aggregator", agg);
  r.route(to({"aggregator"}));
  r.route(to({"aggregator", "trainer-0"})); // one delivered, one parked
  REQUIRE(r.parked() == 1);
  // 1,000 made-up names: all refused, nothing kept.
  for (int i = 0; i < 1000; ++i)
    r.route(to({"ghost-" + std::to_string(i)}, "mallory"));
  REQUIRE(r.parked() == 1);
  CHECK(r.counters().refused_unknown_actor == 1000);
  // Parking is bounded per sender and name, and in names per sender.
  for (int i = 0; i < 10; ++i)
    r.route(to({"trainer-0"}));
  CHECK(r.parked() == 3);
  r.route(to({"trainer-1"}));
  r.route(to({"loader"})); // a third name for sender t0: over max_parked_names
  CHECK(r.parked() == 4);
  r.route(to({"loader"}, "t1")); // another sender has its own bounds
  CHECK(r.parked() == 5);
  CHECK(r.counters().refused_full == 9);
  r.route(to({}));
  CHECK(r.counters().refused_no_recipient == 1);
  // A trainer that starts gets what was parked for it, then everything directly.
  auto t0 = sys.spawn(counter);
  r.add("trainer-0", t0);
  r.route(to({"trainer-0"}));
  CHECK(r.parked() == 2);
  CHECK(received(sys, t0) == 4);
  CHECK(received(sys, agg) == 2);
  r.clear();
  anon_send_exit(agg, caf::exit_reason::user_shutdown);
  anon_send_exit(t0, caf::exit_reason::user_shutdown);
}
