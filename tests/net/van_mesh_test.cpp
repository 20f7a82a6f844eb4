#include <map>

#include <catch2/catch.hpp>

#include "net_test_util.hpp"

using namespace troupe;
using namespace troupe::net;

// The layout troupe-node uses: every van binds, then connects a DEALER to every node, itself included.
TEST_CASE("a full mesh of vans, each also connected to itself, delivers every message", "[net][van]") {
  const std::string transport = GENERATE("inproc", "tcp");
  const int world = GENERATE(2, 3);
  INFO(transport << ", " << world << " nodes");
  auto ctx = context::create();
  std::vector<std::unique_ptr<test::inbox>> inboxes;
  std::vector<std::unique_ptr<van>> vans;
  std::vector<std::string> names, endpoints;
  for (int i = 0; i < world; ++i) {
    names.push_back(fmt::format("node-{}", i));
    inboxes.push_back(std::make_unique<test::inbox>());
    vans.push_back(std::make_unique<van>(test::options(names.back(), ctx)));
    vans.back()->set_handler(inboxes.back()->handler());
    endpoints.push_back(vans.back()->bind(test::bind_endpoint(transport)));
  }
  for (auto& v : vans)
    for (int j = 0; j < world; ++j)
      v->connect(names[j], endpoints[j]);

  constexpr int rounds = 5;
  for (int r = 0; r < rounds; ++r)
    for (int i = 0; i < world; ++i)
      for (int j = 0; j < world; ++j) {
        message m(msg_type::push_gradient);
        m.h.step = static_cast<std::uint64_t>(r);
        m.add_tensor("g", {4}, std::vector<float>(4, static_cast<float>(10 * i + j)));
        vans[i]->send(names[j], std::move(m));
      }

  for (int j = 0; j < world; ++j) {
    std::map<std::string, std::uint64_t> next_step; // per sender, messages arrive in order
    for (int k = 0; k < rounds * world; ++k) {
      auto m = inboxes[j]->pop();
      REQUIRE(m);
      auto& expected = next_step[m->h.sender];
      REQUIRE(m->h.step == expected);
      ++expected;
      const int i = std::stoi(m->h.sender.substr(5));
      REQUIRE(m->view<float>(0)[3] == static_cast<float>(10 * i + j));
    }
    CHECK(next_step.size() == static_cast<std::size_t>(world));
  }
  for (auto& v : vans)
    v->stop();
  for (auto& v : vans) {
    CHECK(v->counters().rejected == 0);
    CHECK(v->counters().send_failures == 0);
  }
}
