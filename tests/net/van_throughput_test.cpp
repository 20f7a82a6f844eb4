#include <algorithm>
#include <cstdio>

#include <catch2/catch.hpp>

#include "net_test_util.hpp"

using namespace troupe;
using namespace troupe::net;

// Hidden (run with: troupe_net_tests "[bench]"): one-way time of a 16M-float message, send() to handler.
TEST_CASE("throughput of a 16M-float message", "[.][net][van][bench]") {
  const std::string transport = GENERATE("tcp", "ipc", "inproc");
  auto ctx = context::create();
  van a(test::options("a", ctx)), b(test::options("b", ctx));
  test::inbox in;
  b.set_handler(in.handler());
  a.connect("b", b.bind(test::bind_endpoint(transport)));
  constexpr std::size_t n = 16u << 20;
  auto params = std::make_shared<const std::vector<float>>(test::ramp(n));
  std::vector<double> seconds;
  for (int i = 0; i < 7; ++i) {
    message m(msg_type::params);
    m.add_tensor("p", {static_cast<std::uint32_t>(n)}, params);
    const auto t0 = std::chrono::steady_clock::now();
    a.send("b", std::move(m));
    auto got = in.pop(std::chrono::seconds(60));
    const auto t1 = std::chrono::steady_clock::now();
    REQUIRE(got);
    REQUIRE(got->view<float>(0).size == n);
    seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double mib = n * 4.0 / (1 << 20);
  std::printf("%-6s 16M floats (%.0f MiB): best %.1f ms (%.2f GB/s), median %.1f ms (%.2f GB/s)\n", transport.c_str(),
              mib, seconds.front() * 1e3, n * 4.0 / seconds.front() / 1e9, seconds[3] * 1e3,
              n * 4.0 / seconds[3] / 1e9);
}
