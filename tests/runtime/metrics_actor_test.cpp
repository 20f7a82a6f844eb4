#include "runtime/metrics_actor.hpp"

#include <fstream>
#include <sstream>

#include <caf/all.hpp>

#include "runtime/messages.hpp"

#include "tests/actors/cluster_test_util.hpp"

using namespace troupe;

TEST_CASE("the metrics log rotates by size and loses no record", "[runtime][metrics]") {
  test::scratch_dir dir("metrics-rotate");
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::ostringstream console;
  runtime::metrics_options o;
  o.dir = dir.path.string();
  o.node = "n0";
  o.out = &console;
  o.rotate_bytes = 300;
  auto m = runtime::spawn_metrics(sys, o);
  for (int i = 0; i < 40; ++i) {
    auto r = runtime::make_record("n0", "trainer-0", "trainer", static_cast<std::uint64_t>(i));
    caf::anon_send(m, runtime::record_atom::value, r.dump());
  }
  caf::anon_send(m, runtime::line_atom::value, std::string("hello console"));
  {
    caf::scoped_actor self{sys};
    self->monitor(m);
    caf::anon_send_exit(m, caf::exit_reason::user_shutdown);
    self->receive([](caf::down_msg&) {});
  }
  std::vector<std::uint64_t> steps;
  std::size_t files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir.path)) {
    ++files;
    REQUIRE(std::filesystem::file_size(f.path()) <= 300);
    for (const auto& rec : test::read_records(f.path()))
      steps.push_back(rec["step"].get<std::uint64_t>());
  }
  REQUIRE(files > 3);
  REQUIRE(std::filesystem::exists(dir.path / "n0.jsonl"));
  REQUIRE(std::filesystem::exists(dir.path / "n0.1.jsonl"));
  std::sort(steps.begin(), steps.end());
  REQUIRE(steps.size() == 40);
  for (std::uint64_t i = 0; i < 40; ++i)
    REQUIRE(steps[i] == i);
  REQUIRE(console.str() == "hello console\n");
}
