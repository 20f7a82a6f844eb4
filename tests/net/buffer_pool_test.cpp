#include "net/buffer_pool.hpp"

#include <cstring>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using namespace troupe::net;

TEST_CASE("a released buffer is reused for the next take of the same size", "[net][buffer_pool]") {
  buffer_pool pool;
  const std::byte* first = nullptr;
  {
    auto a = pool.take(4096);
    first = a.data;
    std::memset(a.data, 1, 4096);
    CHECK(reinterpret_cast<std::uintptr_t>(a.data) % 16 == 0);
    auto b = pool.take(4096); // a is still held: a second buffer
    CHECK(b.data != a.data);
  }
  CHECK(pool.stats().fresh == 2);
  CHECK(pool.stats().idle_bytes == 8192);
  auto c = pool.take(4096);
  CHECK(pool.stats().reused == 1);
  CHECK((c.data == first || pool.stats().idle_bytes == 4096));
  auto d = pool.take(100); // another size is never served by a bigger buffer
  CHECK(pool.stats().fresh == 3);
}

TEST_CASE("the pool keeps no more idle bytes than its cap", "[net][buffer_pool]") {
  buffer_pool pool(10'000);
  { auto a = pool.take(6000), b = pool.take(6000); }
  CHECK(pool.stats().idle_bytes == 6000); // the second would pass 10,000: freed
}

TEST_CASE("a buffer may outlive its pool, and its keep-alive is released with it", "[net][buffer_pool]") {
  auto keep = std::make_shared<int>(5);
  std::weak_ptr<int> alive = keep;
  std::shared_ptr<const void> owner;
  {
    buffer_pool pool;
    owner = pool.take(1 << 20, std::move(keep)).owner;
  }
  CHECK_FALSE(alive.expired());
  owner.reset(); // the pool is gone: freed, not returned
  CHECK(alive.expired());
}

TEST_CASE("buffers released on other threads return to the pool", "[net][buffer_pool]") {
  buffer_pool pool;
  std::vector<std::shared_ptr<const void>> owners;
  for (int i = 0; i < 8; ++i)
    owners.push_back(pool.take(65536).owner);
  std::vector<std::thread> threads;
  for (auto& o : owners)
    threads.emplace_back([o = std::move(o)]() mutable { o.reset(); });
  for (auto& t : threads)
    t.join();
  CHECK(pool.stats().idle_bytes == 8 * 65536);
  for (int i = 0; i < 8; ++i)
    (void)pool.take(65536);
  CHECK(pool.stats().reused == 8);
}
