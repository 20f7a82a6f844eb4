// A running node serves Prometheus metrics fed by its actors' records on /metrics.

#include "actors/node.hpp"

#include <future>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "config/topology.hpp"

#include "cluster_test_util.hpp"

using namespace troupe;

TEST_CASE("a node with metrics.prometheus_port serves its actors' figures on /metrics", "[actors][prometheus]") {
  test::scratch_dir dir("prometheus");
  test::cluster_case c;
  c.epochs = 100; // runs until the test stops it
  auto yaml = test::topology_yaml(c, dir.path);
  yaml += "  prometheus_port: 0\n"; // appended to the metrics section, the file's last
  const auto topo = config::parse_topology(yaml, "test.yaml");
  REQUIRE(topo.metrics.prometheus_port == 0);

  std::atomic<bool> stop{false};
  std::promise<int> port;
  actors::run_options o;
  o.nodes = {"main"};
  std::ostringstream console;
  o.out = &console;
  o.stop = &stop;
  o.on_prometheus_port = [&](int p) { port.set_value(p); };
  int exit_code = -1;
  std::thread node([&] { exit_code = actors::run_nodes(topo, o); });

  auto f = port.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  httplib::Client client("127.0.0.1", f.get());
  std::string body;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  // Both trainers report independently: wait until trainer-0's figures are in too.
  auto complete = [&] {
    return body.find("troupe_trainer_clock{") != std::string::npos &&
           body.find("actor=\"trainer-0\"") != std::string::npos;
  };
  while (!complete() && std::chrono::steady_clock::now() < deadline) {
    if (auto res = client.Get("/metrics"); res && res->status == 200)
      body = res->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  node.join();
  INFO(body);
  REQUIRE(body.find("# TYPE troupe_trainer_clock gauge") != std::string::npos);
  REQUIRE(body.find("actor=\"trainer-0\"") != std::string::npos);
  REQUIRE(exit_code == 0);
}
