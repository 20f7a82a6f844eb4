/// The rendezvous of a launched job (runtime/rendezvous.hpp), in one process: every rank learns
/// every endpoint; another cluster, a taken rank, a wrong name and an unlisted CURVE key are
/// refused with the reason on both sides; a missing rank ends the wait with its name.

#include <atomic>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "common/error.hpp"
#include "net/curve.hpp"
#include "runtime/rendezvous.hpp"

using namespace troupe;
using runtime::rendezvous_options;
using runtime::rendezvous_self;

namespace {

/// A rendezvous address on a port free right now.
std::string fresh_address() {
  runtime::reserved_port p("127.0.0.1");
  return fmt::format("tcp://127.0.0.1:{}", p.port());
}

rendezvous_options options(const std::string& address, std::size_t world, std::ostream& log,
                           const std::string& cluster = "rdv") {
  rendezvous_options o;
  o.cluster_id = cluster;
  o.address = address;
  o.world = world;
  o.timeout_s = 10;
  o.log = &log;
  return o;
}

rendezvous_self self(std::size_t rank, int port) {
  return {rank, rank == 0 ? "agg" : fmt::format("t{}", rank - 1), fmt::format("tcp://127.0.0.1:{}", port)};
}

std::string error_of(std::future<std::vector<std::string>>& f) {
  try {
    f.get();
  } catch (const error& e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST_CASE("every rank learns every endpoint, in rank order", "[runtime][rendezvous]") {
  const auto address = fresh_address();
  std::ostringstream slog, l1, l2, l3;
  auto server =
      std::async(std::launch::async, [&] { return serve_rendezvous(options(address, 4, slog), self(0, 7000)); });
  auto j3 = std::async(std::launch::async, [&] { return join_rendezvous(options(address, 4, l3), self(3, 7003)); });
  auto j1 = std::async(std::launch::async, [&] { return join_rendezvous(options(address, 4, l1), self(1, 7001)); });
  auto j2 = std::async(std::launch::async, [&] { return join_rendezvous(options(address, 4, l2), self(2, 7002)); });
  const std::vector<std::string> want = {"tcp://127.0.0.1:7000", "tcp://127.0.0.1:7001", "tcp://127.0.0.1:7002",
                                         "tcp://127.0.0.1:7003"};
  CHECK(server.get() == want);
  CHECK(j1.get() == want);
  CHECK(j2.get() == want);
  CHECK(j3.get() == want);
  CHECK_THAT(slog.str(), Catch::Contains("all 4 processes present"));
}

TEST_CASE("another cluster, a taken rank and a wrong name are refused on both sides", "[runtime][rendezvous]") {
  const auto address = fresh_address();
  std::ostringstream slog, l1, lx, ldup, lname;
  auto server =
      std::async(std::launch::async, [&] { return serve_rendezvous(options(address, 3, slog), self(0, 7100)); });
  auto j1 = std::async(std::launch::async, [&] { return join_rendezvous(options(address, 3, l1), self(1, 7101)); });

  auto other = std::async(std::launch::async,
                          [&] { return join_rendezvous(options(address, 3, lx, "other-job"), self(2, 7199)); });
  CHECK_THAT(error_of(other), Catch::Contains("refused 't1'") && Catch::Contains("serves cluster 'rdv'") &&
                                  Catch::Contains("cluster 'other-job'"));

  // Rank 1 is held by j1 once it has announced; wait for that before a second process claims it.
  for (int i = 0; i < 200 && slog.str().find("joined as rank 1") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  auto dup = std::async(std::launch::async, [&] { return join_rendezvous(options(address, 3, ldup), self(1, 7198)); });
  CHECK_THAT(error_of(dup),
             Catch::Contains("rank 1 ('t0') is already taken by pid") && Catch::Contains("tcp://127.0.0.1:7101"));

  auto wrong = std::async(std::launch::async, [&] {
    return join_rendezvous(options(address, 3, lname), {2, "t7", "tcp://127.0.0.1:7197"});
  });
  CHECK_THAT(error_of(wrong), Catch::Contains("rank 2 is node 't1', not 't7'"));

  // The server said so too, and the job still forms once the real rank 2 arrives.
  const auto said = slog.str();
  CHECK_THAT(said, Catch::Contains("refused 't1'") && Catch::Contains("other-job"));
  CHECK_THAT(said, Catch::Contains("already taken"));
  std::ostringstream l2;
  auto j2 = std::async(std::launch::async, [&] { return join_rendezvous(options(address, 3, l2), self(2, 7102)); });
  CHECK(server.get().size() == 3);
  CHECK(j1.get()[2] == "tcp://127.0.0.1:7102");
  CHECK(j2.get()[1] == "tcp://127.0.0.1:7101");
}

TEST_CASE("a missing rank ends the wait, named, on both sides", "[runtime][rendezvous]") {
  const auto address = fresh_address();
  std::ostringstream slog, l1;
  auto o = options(address, 3, slog);
  o.timeout_s = 1.5;
  auto server = std::async(std::launch::async, [&] { return serve_rendezvous(o, self(0, 7200)); });
  auto j1 = std::async(std::launch::async, [&] { return join_rendezvous(options(address, 3, l1), self(1, 7201)); });
  CHECK_THAT(error_of(server), Catch::Contains("only 2 of 3 processes arrived") && Catch::Contains("2 ('t1')"));
  CHECK_THAT(error_of(j1), Catch::Contains("gave up") && Catch::Contains("2 ('t1')"));
}

TEST_CASE("under CURVE, an unlisted key and a listed key claiming another name are refused", "[runtime][rendezvous]") {
  if (!net::curve_available()) {
    WARN("TROUPE_TEST_SKIPPED: this libzmq has no CURVE");
    return;
  }
  const auto agg = net::generate_curve_keypair(), t0 = net::generate_curve_keypair(),
             t1 = net::generate_curve_keypair(), stranger = net::generate_curve_keypair();
  const std::map<std::string, std::string> listed = {
      {"agg", agg.public_key}, {"t0", t0.public_key}, {"t1", t1.public_key}};
  const auto address = fresh_address();
  const auto curve = [&](const net::curve_keypair& own) {
    net::curve_options c;
    c.enabled = true;
    c.own = own;
    c.peers = listed;
    return c;
  };
  std::ostringstream slog, l1, ls, limp, l2;
  auto so = options(address, 3, slog);
  so.curve = curve(agg);
  auto server = std::async(std::launch::async, [&] { return serve_rendezvous(so, self(0, 7300)); });

  auto o1 = options(address, 3, l1);
  o1.curve = curve(t0);
  auto j1 = std::async(std::launch::async, [&] { return join_rendezvous(o1, self(1, 7301)); });

  auto os = options(address, 3, ls);
  os.curve = curve(stranger);
  os.timeout_s = 5;
  auto s = std::async(std::launch::async, [&] { return join_rendezvous(os, self(2, 7399)); });
  CHECK_THAT(error_of(s), Catch::Contains("refused this process's CURVE key"));

  auto oi = options(address, 3, limp); // t0's listed key, announcing itself as t1
  oi.curve = curve(t0);
  auto imp = std::async(std::launch::async, [&] { return join_rendezvous(oi, self(2, 7398)); });
  CHECK_THAT(error_of(imp), Catch::Contains("its CURVE key is listed for node 't0'") &&
                                Catch::Contains("may not announce itself as 't1'"));

  auto o2 = options(address, 3, l2);
  o2.curve = curve(t1);
  auto j2 = std::async(std::launch::async, [&] { return join_rendezvous(o2, self(2, 7302)); });
  CHECK(server.get().size() == 3);
  CHECK(j1.get().size() == 3);
  CHECK(j2.get().size() == 3);
  CHECK_THAT(slog.str(), Catch::Contains("refused a connection"));
}

TEST_CASE("elastic: free places are taken by joins while the job runs, and refused once all are taken",
          "[runtime][rendezvous][elastic]") {
  const auto address = fresh_address();
  std::ostringstream slog, l1, lj1, lj2, lj3, ltaken;
  auto o = options(address, 2, slog);
  o.max_world = 4; // agg, t0 launched; t1, t2 free
  runtime::rendezvous_server server(o, self(0, 7300));
  auto o1 = options(address, 2, l1);
  o1.max_world = 4;
  auto j1 = std::async(std::launch::async, [&] { return join_rendezvous(o1, self(1, 7301)); });
  const std::vector<std::string> start = {"tcp://127.0.0.1:7300", "tcp://127.0.0.1:7301", "", ""};
  CHECK(server.gather() == start);
  CHECK(j1.get() == start);

  std::mutex m;
  std::vector<std::pair<std::string, std::string>> connected;
  std::atomic<bool> ready{false};
  server.serve_joins(
      [&](const std::string& node, const std::string& endpoint) {
        std::lock_guard<std::mutex> lock(m);
        connected.emplace_back(node, endpoint);
        return std::string();
      },
      [&] { return ready.load(); });
  auto joiner = [&](std::ostream& log, const std::string& name, int port) {
    auto oj = options(address, 1, log);
    oj.max_world = 4;
    return runtime::join_running(oj, name, fmt::format("tcp://127.0.0.1:{}", port));
  };
  // A join before the nodes run waits for them, then takes the lowest free place.
  auto a = std::async(std::launch::async, [&] { return joiner(lj1, "", 7302); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ready = true;
  const auto [rank_a, members_a] = a.get();
  CHECK(rank_a == 2);
  CHECK(members_a ==
        std::vector<std::string>{"tcp://127.0.0.1:7300", "tcp://127.0.0.1:7301", "tcp://127.0.0.1:7302", ""});
  // A name that is not a free place, and one that is taken, are refused with the free ones named.
  CHECK_THROWS_WITH(joiner(ltaken, "t0", 7303),
                    Catch::Contains("'t0' is not a place a trainer may join as") && Catch::Contains("free places: t2"));
  CHECK_THROWS_WITH(joiner(ltaken, "t1", 7303), Catch::Contains("place 't1' is already taken"));
  const auto [rank_b, members_b] = joiner(lj2, "t2", 7304);
  CHECK(rank_b == 3);
  CHECK(members_b[3] == "tcp://127.0.0.1:7304");
  CHECK_THROWS_WITH(joiner(lj3, "", 7305),
                    Catch::Contains("every place of this job is taken") && Catch::Contains("max_trainers is 3"));
  // Another cluster's process is refused too.
  {
    std::ostringstream lx;
    auto ox = options(address, 1, lx, "other-job");
    ox.max_world = 4;
    CHECK_THROWS_WITH(runtime::join_running(ox, "", "tcp://127.0.0.1:7306"), Catch::Contains("another job"));
  }
  server.stop();
  CHECK(connected == std::vector<std::pair<std::string, std::string>>{{"t1", "tcp://127.0.0.1:7302"},
                                                                      {"t2", "tcp://127.0.0.1:7304"}});
  CHECK_THAT(slog.str(), Catch::Contains("joined the running job as 't1' (rank 2)") &&
                             Catch::Contains("refused the join") &&
                             Catch::Contains("every place of this job is taken"));
}

TEST_CASE("a job that is not elastic refuses a join, saying how to allow it", "[runtime][rendezvous][elastic]") {
  const auto address = fresh_address();
  std::ostringstream slog, l1, lj;
  runtime::rendezvous_server server(options(address, 2, slog), self(0, 7400));
  auto j1 = std::async(std::launch::async, [&] { return join_rendezvous(options(address, 2, l1), self(1, 7401)); });
  CHECK(server.gather().size() == 2);
  j1.get();
  server.serve_joins([](const std::string&, const std::string&) { return std::string(); }, [] { return true; });
  auto oj = options(address, 1, lj);
  oj.max_world = 3; // the joiner's YAML says elastic, the running job's does not
  CHECK_THROWS_WITH(runtime::join_running(oj, "", "tcp://127.0.0.1:7402"),
                    Catch::Contains("not elastic") && Catch::Contains("cluster.launch.max_trainers"));
  server.stop();
  CHECK_THAT(slog.str(), Catch::Contains("refused the join") && Catch::Contains("not elastic"));
}
