// The supervisor on its own: one spawn path for start and restart, strategies, intensity,
// escalation of a child that keeps failing without progress, and no restarts once the job is over.

#include "runtime/supervisor.hpp"

#include <thread>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

using namespace troupe;
using runtime::child_id;
using runtime::supervisor;

namespace {

caf::behavior idle_child(caf::event_based_actor*) {
  return {[](int) {}};
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::vector<std::pair<child_id, runtime::start_info>> spawned;
  std::vector<nlohmann::json> records;
  std::map<std::size_t, std::uint64_t> steps; ///< progress per trainer rank

  std::unique_ptr<supervisor> make(std::string strategy, std::size_t max_restarts, double period_s) {
    config::supervisor_spec spec;
    spec.strategy = std::move(strategy);
    spec.max_restarts = max_restarts;
    spec.period_s = period_s;
    spec.backoff_s = 0.001;
    spec.backoff_max_s = 0.001;
    return std::make_unique<supervisor>(
        "n", spec, 1,
        [this](const child_id& c, const runtime::start_info& info) {
          spawned.emplace_back(c, info);
          return sys.spawn(idle_child);
        },
        [this](nlohmann::json r) { records.push_back(std::move(r)); },
        [this](const child_id& c) { return steps[c.rank]; });
  }
};

const caf::error failed = caf::make_error(caf::sec::runtime_error, "boom");

std::vector<caf::actor> start_due_soon(supervisor& s) {
  std::this_thread::sleep_for(std::chrono::milliseconds(5)); // past the 1 ms backoff (a real clock, not sync)
  return s.start_due(std::chrono::steady_clock::now() + std::chrono::seconds(1));
}

} // namespace

TEST_CASE("a child that keeps failing without progress escalates, one that progresses is restarted",
          "[runtime][supervisor]") {
  fixture f;
  // A tiny period: the restart intensity alone would never trip.
  auto s = f.make("one_for_one", 3, 0.000001);
  auto a = s->start({child_id::kind::trainer, 0});
  REQUIRE(f.spawned.size() == 1);
  REQUIRE(f.spawned[0].second.failed_at == 0);
  SECTION("progress between failures: restarted every time") {
    for (int i = 0; i < 6; ++i) {
      ++f.steps[0];
      REQUIRE(s->on_down(a.address(), failed, "boom") == supervisor::verdict::restarting);
      const auto started = start_due_soon(*s);
      REQUIRE(started.size() == 1);
      a = started[0];
    }
    REQUIRE(f.spawned.back().second.failed_at > 0); // a restart says when the failure was
  }
  SECTION("no progress: the fourth failure in a row escalates") {
    for (int i = 0; i < 3; ++i) {
      REQUIRE(s->on_down(a.address(), failed, "boom") == supervisor::verdict::restarting);
      a = start_due_soon(*s).at(0);
    }
    REQUIRE(s->on_down(a.address(), failed, "boom") == supervisor::verdict::escalate);
    REQUIRE(f.records.back()["event"] == "escalation");
    REQUIRE_THAT(s->escalation(), Catch::Matchers::Contains("without making progress"));
  }
}

TEST_CASE("one_for_all restarts the failed trainer's siblings once they are gone", "[runtime][supervisor]") {
  fixture f;
  auto s = f.make("one_for_all", 3, 60);
  auto t0 = s->start({child_id::kind::trainer, 0});
  auto t1 = s->start({child_id::kind::trainer, 1});
  REQUIRE(s->on_down(t0.address(), failed, "boom") == supervisor::verdict::restarting);
  // t1 was told to quit quietly; until it is gone its new incarnation waits.
  REQUIRE(start_due_soon(*s).size() == 1);
  REQUIRE(s->on_down(t1.address(), caf::error{}, "") == supervisor::verdict::exited);
  REQUIRE(start_due_soon(*s).size() == 1);
  REQUIRE(s->idle());
  REQUIRE(f.records.front()["also_restarting"] == nlohmann::json::array({"trainer-1"}));
}

TEST_CASE("once the job is over nothing is restarted", "[runtime][supervisor]") {
  fixture f;
  auto s = f.make("one_for_one", 3, 60);
  auto t0 = s->start({child_id::kind::trainer, 0});
  auto t1 = s->start({child_id::kind::trainer, 1});
  REQUIRE(s->on_down(t0.address(), failed, "boom") == supervisor::verdict::restarting);
  s->stop_restarting();
  REQUIRE(s->idle());
  REQUIRE(start_due_soon(*s).empty());
  REQUIRE(s->on_down(t1.address(), failed, "boom") == supervisor::verdict::exited);
  REQUIRE(f.spawned.size() == 2);
}

TEST_CASE("a failure by decision (user_shutdown) is not restarted: the node escalates", "[runtime][supervisor]") {
  fixture f;
  auto s = f.make("one_for_one", 3, 60);
  auto agg = s->start({child_id::kind::aggregator, 0});
  REQUIRE(s->on_down(agg.address(), caf::exit_reason::user_shutdown, "user_shutdown") == supervisor::verdict::escalate);
  REQUIRE(s->on_down(caf::actor_addr(), failed, "boom") == supervisor::verdict::not_mine);
}
