// Network faults between real troupe-node processes: one trainer (t1) partitioned for longer
// than the heartbeat timeout and healed, or its links delayed for part of the run. The faults
// come from a TCP fault proxy that every byte to and from t1 passes through (no privileges
// needed), and, where network namespaces are available, from a veth link set down and up.
//
// Which connections carry t1's traffic (net/van.hpp, actors/node.cpp): every node binds one
// ROUTER and opens a DEALER to every other node, and sends through its DEALER. So t1's
// messages to the aggregator and the loader travel on t1's DEALERs (t1 -> agg, t1 -> loader),
// and their messages to t1 (parameters, batches, shutdown) on *their* DEALERs to t1's ROUTER.
// A partition must cut both: t1's process gets a topology in which agg, loader and t0 are
// proxy routes, theirs one in which t1 is.

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fault_cluster.hpp"
#include "observe/peers_view.hpp"
#include "observe/record_feed.hpp"
#include "observe/records.hpp"
#include "observe/schema.hpp"
#include "tests/support/fault_proxy.hpp"

using namespace troupe;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t print_freq = 5;

/// One epoch of a 3200-image slice with two trainers: 50 bsp clocks.
test::cluster_case fault_case() {
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 2;
  c.batch = 32;
  c.epochs = 1;
  c.max_train = 3200;
  c.max_test = 500;
  c.print_freq = print_freq;
  return c;
}

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

std::string ipc_endpoint(const std::filesystem::path& dir, const std::string& node) {
  return fmt::format("ipc://{}/sockets/{}.sock", dir.string(), node);
}

const std::vector<std::pair<std::string, std::string>> nodes{
    {"agg", "aggregator"}, {"loader", "loader"}, {"t0", "trainer"}, {"t1", "trainer"}};

/// One YAML per node: t1 reaches agg, loader and t0 through `proxy`, and they reach t1 through it.
std::map<std::string, std::filesystem::path> proxied_configs(const std::filesystem::path& dir,
                                                             test::fault_proxy& proxy) {
  const auto base = test::topology_yaml(fault_case(), dir);
  std::string for_t1 = base;
  for (const std::string peer : {"agg", "loader", "t0"})
    for_t1 =
        test::replace_all(for_t1, quoted(ipc_endpoint(dir, peer)), quoted(proxy.add_route(ipc_endpoint(dir, peer))));
  const auto for_others =
      test::replace_all(base, quoted(ipc_endpoint(dir, "t1")), quoted(proxy.add_route(ipc_endpoint(dir, "t1"))));
  REQUIRE(for_t1 != base);
  REQUIRE(for_others != base);
  std::map<std::string, std::filesystem::path> out;
  for (const auto& [name, role] : nodes) {
    out[name] = dir / (name + ".yaml");
    std::ofstream(out[name]) << (name == "t1" ? for_t1 : for_others);
  }
  return out;
}

/// The proxy's counters, for failure messages (a run that never started shows accepted/refused here).
std::string describe(const test::fault_proxy& proxy) {
  const auto c = proxy.counters();
  return fmt::format("fault proxy: {} connections accepted, {} refused by their target, {} bytes forward, {} back, "
                     "{} delayed",
                     c.accepted, c.refused, c.bytes_forward, c.bytes_backward, c.bytes_delayed);
}

struct outcome {
  std::string failures; ///< "" when all four exited 0
  std::string logs;
};

/// Starts the four nodes (t1's command prefixed by `t1_prefix`, e.g. `ip netns exec ns`), runs
/// `fault` while they train, and waits up to 240 s for every process to exit.
outcome run_four(const std::filesystem::path& dir, const std::map<std::string, std::filesystem::path>& configs,
                 const std::function<void()>& fault, const std::vector<std::string>& t1_prefix = {}) {
  test::process_group group;
  for (const auto& [name, role] : nodes) {
    std::vector<std::string> args = name == "t1" ? t1_prefix : std::vector<std::string>{};
    for (const auto& a : {std::string(TROUPE_NODE_BINARY), std::string("--role"), role, std::string("--name"), name,
                          std::string("--config"), configs.at(name).string()})
      args.push_back(a);
    group.start(name, args, dir / (name + ".log"));
  }
  if (fault) {
    // A failed REQUIRE inside `fault` must still show the nodes' logs.
    try {
      fault();
    } catch (...) {
      std::cerr << group.logs();
      throw;
    }
  }
  group.wait_all(240s);
  return {group.failures(), group.logs()};
}

/// Asserts that the faulted run ended as the fault-free one: within 0.5 accuracy points, and
/// bitwise equal when the aggregator's log shows nothing but healed-fault events.
void require_as_fault_free(const std::filesystem::path& faulted, const std::filesystem::path& reference) {
  const auto a = test::read_result(faulted), b = test::read_result(reference);
  CAPTURE(a.final_acc, b.final_acc);
  REQUIRE(b.final_acc > 0.6); // the reference itself learned (chance is 0.10)
  REQUIRE(std::abs(a.final_acc - b.final_acc) <= 0.005);
  const auto unexpected = test::unexpected_event(faulted / "metrics" / "agg.jsonl");
  if (unexpected.empty()) {
    // bsp with every trainer's gradient in every round is deterministic: the fault only cost time.
    REQUIRE(test::differing_params(a.model, b.model) == 0);
    REQUIRE(a.final_acc == b.final_acc);
  } else {
    WARN("the aggregator recorded " << unexpected << ": comparing accuracy only");
  }
}

/// A fault-free run of the proxied topology (the proxy in pass mode): the reference.
std::filesystem::path reference_run(const test::scratch_dir& dir) {
  test::fault_proxy proxy;
  const auto configs = proxied_configs(dir.path, proxy);
  const auto out = run_four(dir.path, configs, {});
  INFO(out.logs);
  INFO(describe(proxy));
  REQUIRE(out.failures == ""); // names the process that did not exit 0
  REQUIRE(test::events(dir.path / "metrics" / "agg.jsonl", "peer_lost").empty());
  return dir.path;
}

/// Cuts t1 off (with `cut`) once training runs, holds the cut until the aggregator declares t1
/// lost plus one more heartbeat interval, heals it (with `heal`), and waits for t1 to be back.
void partition_t1(const std::filesystem::path& dir, const std::function<void()>& cut,
                  const std::function<void()>& heal) {
  const auto agg_log = dir / "metrics" / "agg.jsonl";
  REQUIRE(test::wait_for([&] { return test::aggregator_step(agg_log) >= 10; }, 120s));
  cut();
  const auto cut_at = std::chrono::steady_clock::now();
  // Detection: 3 heartbeat intervals of 1 s plus the 1 s check tick; generous for a loaded machine.
  REQUIRE(test::wait_for([&] { return !test::events(agg_log, "peer_lost", "t1").empty(); }, 20s));
  const double detected_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - cut_at).count();
  std::this_thread::sleep_for(1s); // the partition outlasts the detection timeout
  heal();
  REQUIRE(test::wait_for([&] { return !test::events(agg_log, "peer_back", "t1").empty(); }, 60s));
  const double cut_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - cut_at).count();
  std::cout << fmt::format("partition of t1: detected after {:.1f} s, back {:.1f} s after the cut\n", detected_s,
                           cut_s);
}

void require_partition_outcome(const outcome& out, const std::filesystem::path& dir, const std::filesystem::path& ref) {
  INFO(out.logs);
  REQUIRE(out.failures == ""); // names the process that did not exit 0
  const auto agg_log = dir / "metrics" / "agg.jsonl";
  REQUIRE(test::events(agg_log, "peer_lost", "t1").size() == 1);
  REQUIRE(test::events(agg_log, "peer_back", "t1").size() == 1);
  // Only t1 was cut off: nobody else went silent.
  REQUIRE(test::events(agg_log, "peer_lost").size() == 1);
  REQUIRE(test::events(agg_log, "finish").at(0)["reason"] == "done");
  require_as_fault_free(dir, ref);
}

// ---- a raw-socket pair through the proxy, for the proxy's own test ----

int listen_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(::listen(fd, 8) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  port = ntohs(a.sin_port);
  return fd;
}

int connect_loopback(const std::string& endpoint) {
  const auto port = static_cast<std::uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  return fd;
}

bool readable(int fd, std::chrono::milliseconds within) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(within.count())) == 1;
}

std::string read_some(int fd) {
  char buf[256];
  const auto n = ::recv(fd, buf, sizeof(buf), 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

void send_all(int fd, const std::string& s) {
  REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
}

} // namespace

TEST_CASE("the fault proxy relays both ways, delays, holds during a blackhole and delivers after the heal",
          "[faults][proxy]") {
  std::uint16_t port = 0;
  const int server = listen_loopback(port);
  test::fault_proxy proxy;
  const auto ep = proxy.add_route(fmt::format("tcp://127.0.0.1:{}", port));
  const int client = connect_loopback(ep);
  REQUIRE(readable(server, 5000ms));
  const int peer = ::accept(server, nullptr, nullptr);
  REQUIRE(peer >= 0);

  send_all(client, "ping");
  REQUIRE(readable(peer, 5000ms));
  REQUIRE(read_some(peer) == "ping");
  send_all(peer, "pong");
  REQUIRE(readable(client, 5000ms));
  REQUIRE(read_some(client) == "pong");

  // Blackhole: nothing moves either way, and the connection stays open (no reset, no EOF).
  proxy.blackhole();
  send_all(client, "held-forward");
  send_all(peer, "held-backward");
  REQUIRE_FALSE(readable(peer, 500ms));
  REQUIRE_FALSE(readable(client, 100ms));
  // A connection made during the partition is accepted but reaches nobody.
  const int late = connect_loopback(ep);
  REQUIRE_FALSE(readable(server, 200ms));
  proxy.heal();
  REQUIRE(readable(peer, 5000ms));
  REQUIRE(read_some(peer) == "held-forward");
  REQUIRE(readable(client, 5000ms));
  REQUIRE(read_some(client) == "held-backward");
  REQUIRE(readable(server, 5000ms)); // the late connection reaches the target after the heal
  const int late_peer = ::accept(server, nullptr, nullptr);
  REQUIRE(late_peer >= 0);

  // Delay: at least the base delay passes before the bytes arrive (only a lower bound is asserted).
  proxy.delay(150ms, 50ms);
  const auto t0 = std::chrono::steady_clock::now();
  send_all(client, "slow");
  REQUIRE(readable(peer, 5000ms));
  REQUIRE(std::chrono::steady_clock::now() - t0 >= 150ms);
  REQUIRE(read_some(peer) == "slow");
  // The proxy counts a write just after it returns: give it a moment to catch up with the bytes seen.
  test::wait_for([&] { return proxy.counters().bytes_forward >= 20; }, 2s);
  const auto c = proxy.counters();
  REQUIRE(c.accepted == 2);
  REQUIRE(c.bytes_delayed == 4);
  REQUIRE(c.bytes_forward == 4 + 12 + 4);
  REQUIRE(c.bytes_backward == 4 + 13);

  // A closed side is passed on as EOF.
  proxy.pass();
  ::close(client);
  REQUIRE(readable(peer, 5000ms));
  REQUIRE(read_some(peer).empty());
  for (int fd : {peer, late, late_peer, server})
    ::close(fd);
}

TEST_CASE("a trainer partitioned past the heartbeat timeout and healed: the bsp run completes as if fault-free",
          "[multiprocess][faults][partition]") {
  test::scratch_dir ref("netfault-ref"), dir("netfault-partition");
  reference_run(ref);

  test::fault_proxy proxy;
  const auto configs = proxied_configs(dir.path, proxy);
  const auto out = run_four(dir.path, configs, [&] {
    partition_t1(
        dir.path, [&] { proxy.blackhole(); }, [&] { proxy.heal(); });
  });
  INFO(describe(proxy));
  require_partition_outcome(out, dir.path, ref.path);
}

TEST_CASE("a trainer's links delayed 20-50 ms each way for part of the run: the bsp run completes as if fault-free",
          "[multiprocess][faults][delay]") {
  test::scratch_dir ref("netfault-delay-ref"), dir("netfault-delay");
  reference_run(ref);

  test::fault_proxy proxy;
  const auto configs = proxied_configs(dir.path, proxy);
  std::uint64_t delayed_from = 0, delayed_to = 0;
  const auto out = run_four(dir.path, configs, [&] {
    const auto agg_log = dir.path / "metrics" / "agg.jsonl";
    REQUIRE(test::wait_for([&] { return test::aggregator_step(agg_log) >= 5; }, 120s));
    delayed_from = test::aggregator_step(agg_log);
    proxy.delay(20ms, 30ms);
    // A third of the run (15 of 50 clocks) under the delay, or 60 s at most.
    test::wait_for([&] { return test::aggregator_step(agg_log) >= delayed_from + 15; }, 60s);
    delayed_to = test::aggregator_step(agg_log);
    proxy.pass();
  });
  INFO(out.logs);
  INFO(describe(proxy));
  REQUIRE(out.failures == ""); // names the process that did not exit 0
  CAPTURE(delayed_from, delayed_to);
  REQUIRE(delayed_to > delayed_from); // training went on under the delay
  const auto c = proxy.counters();
  CAPTURE(c.bytes_delayed, c.bytes_forward, c.bytes_backward);
  REQUIRE(c.bytes_delayed > 0);
  std::cout << fmt::format("delay on t1's links: clocks {} to {}, {:.1f} MB held 20-50 ms\n", delayed_from, delayed_to,
                           static_cast<double>(c.bytes_delayed) / 1e6);
  REQUIRE(test::events(dir.path / "metrics" / "agg.jsonl", "finish").at(0)["reason"] == "done");
  require_as_fault_free(dir.path, ref.path);
}

namespace {

/// The last `transport` record in a node's log.
nlohmann::json last_transport(const std::filesystem::path& log) {
  nlohmann::json last;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    const auto rec = nlohmann::json::parse(line, nullptr, false);
    if (rec.is_object() && rec.value("role", "") == "transport")
      last = rec;
  }
  return last;
}

/// A peer's figures in a transport record, with its round trip measured (rtt_samples > 0).
nlohmann::json measured_peer(const nlohmann::json& transport, const std::string& peer) {
  INFO(transport.dump());
  REQUIRE(transport.contains("peers"));
  REQUIRE(transport["peers"].contains(peer));
  const auto p = transport["peers"][peer];
  REQUIRE(p.value("rtt_samples", 0) > 0);
  return p;
}

} // namespace

TEST_CASE("a trainer's links delayed 100 ms each way: the transport records show its round trip, not the others'",
          "[multiprocess][faults][peers]") {
  test::scratch_dir dir("netfault-peers");
  test::fault_proxy proxy;
  const auto configs = proxied_configs(dir.path, proxy);
  proxy.delay(100ms, 0ms); // for the whole run: every byte to and from t1 is held 100 ms
  const auto out = run_four(dir.path, configs, {});
  INFO(out.logs);
  INFO(describe(proxy));
  REQUIRE(out.failures == ""); // names the process that did not exit 0

  // The aggregator's node: its round trip to t1 crosses the proxy twice (>= 200 ms), to t0 it does not.
  const auto agg = last_transport(dir.path / "metrics" / "agg.jsonl");
  CHECK(observe::validate_record(agg).empty());
  const auto t1 = measured_peer(agg, "t1"), t0 = measured_peer(agg, "t0");
  const double t1_rtt = t1["rtt_s"], t0_rtt = t0["rtt_s"], t1_min = t1["rtt_min_s"], t0_min = t0["rtt_min_s"];
  CAPTURE(t1_rtt, t0_rtt, t1_min, t0_min);
  CHECK(t1_min >= 0.2);
  // Generous ratios: an idle ipc round trip is well under a millisecond. The smoothed one of t0 can
  // reach tens of ms on a loaded machine (a probe queues behind parameter frames), so only the
  // minimum is compared by a ratio; t1's smoothed round trip is at least 200 ms by construction.
  CHECK(t1_min > 4 * t0_min);
  CHECK(t1_rtt > t0_rtt);
  CHECK(t1["bytes_received"].get<double>() > 0);
  CHECK(agg["mailboxes"].contains("aggregator"));

  // t0 sees the same: its link to t1 is the slow one, its link to the aggregator is not.
  const auto t0_log = last_transport(dir.path / "metrics" / "t0.jsonl");
  CHECK(observe::validate_record(t0_log).empty());
  const double via_proxy = measured_peer(t0_log, "t1")["rtt_min_s"], direct = measured_peer(t0_log, "agg")["rtt_min_s"];
  CAPTURE(via_proxy, direct);
  CHECK(via_proxy > 4 * direct);
  CHECK(t0_log["prefetch"].contains("trainer-0"));

  // What a user sees from the same run: `watch --peers` marks only t1's links, and the Prometheus
  // samples the metrics actor exports from these records single t1 out by its label.
  const auto run = observe::read_records((dir.path / "metrics").string());
  REQUIRE(run.errors.empty());
  const std::string view = observe::render_peers(run.records, run.records.back().ts);
  INFO(view);
  std::size_t marked = 0;
  std::istringstream lines(view);
  for (std::string line; std::getline(lines, line);)
    if (line.find("< slow") != std::string::npos) {
      ++marked;
      CHECK((line.rfind("t1 ", 0) == 0 || line.find(" t1 ") != std::string::npos));
    }
  CHECK(marked >= 2); // agg-t1 and t0-t1 at least, seen from either end
  CHECK_THAT(view, Catch::Contains("has t1 at one end"));
  observe::registry reg;
  for (const auto& r : run.records)
    observe::feed_record(reg, r.fields);
  const auto prom = [&reg](const char* peer) {
    return reg.value("troupe_peer_rtt_min_seconds", {{"node", "agg"}, {"peer", peer}}).value_or(-1);
  };
  CHECK(prom("t1") > 4 * prom("t0"));
  CHECK(prom("t0") >= 0);
  CHECK_THAT(reg.exposition(), Catch::Contains("troupe_peer_rtt_seconds{node=\"agg\",peer=\"t1\"}"));
  std::cout << fmt::format("round trips seen by agg: t1 {:.1f} ms (min {:.1f}), t0 {:.2f} ms (min {:.2f})\n",
                           1e3 * t1_rtt, 1e3 * t1_min, 1e3 * t0_rtt, 1e3 * t0_min);
}

namespace {

/// A network namespace for t1 joined to the host by a veth pair; removed (with the link) at
/// scope exit, also when the test fails midway. Namespaces left by a killed test run (named
/// after a process that no longer exists) are removed by the next setup.
class netns_link {
public:
  explicit netns_link(std::filesystem::path dir) : dir_(std::move(dir)) {
    const int tag = static_cast<int>(::getpid() % 100000);
    ns_ = fmt::format("troupe-ft-{}", ::getpid());
    host_if_ = fmt::format("tfta{}", tag);
    ns_if_ = fmt::format("tftb{}", tag);
    const int subnet = static_cast<int>(::getpid() % 60) * 4;
    host_ip_ = fmt::format("10.213.{}.{}", ::getpid() / 60 % 250, subnet + 1);
    ns_ip_ = fmt::format("10.213.{}.{}", ::getpid() / 60 % 250, subnet + 2);
  }
  ~netns_link() {
    if (link_made_)
      ip({"link", "del", host_if_});
    if (ns_made_)
      ip({"netns", "del", ns_});
  }
  netns_link(const netns_link&) = delete;
  netns_link& operator=(const netns_link&) = delete;

  /// Creates the namespace and the link; "" on success, else why it is not possible here.
  std::string setup() {
    for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
      if (::access(p, X_OK) == 0) {
        ip_ = p;
        break;
      }
    if (ip_.empty())
      return "no `ip` binary (iproute2)";
    if (::geteuid() != 0)
      return "not root: creating network namespaces needs CAP_SYS_ADMIN and CAP_NET_ADMIN";
    remove_stale();
    if (ip({"netns", "add", ns_}) != 0)
      return "`ip netns add` failed: " + last_output_;
    ns_made_ = true;
    if (ip({"link", "add", host_if_, "type", "veth", "peer", "name", ns_if_}) != 0)
      return "`ip link add ... type veth` failed: " + last_output_;
    link_made_ = true;
    for (const auto& cmd : std::vector<std::vector<std::string>>{
             {"link", "set", ns_if_, "netns", ns_},
             {"addr", "add", host_ip_ + "/30", "dev", host_if_},
             {"link", "set", host_if_, "up"},
             {"netns", "exec", ns_, ip_, "addr", "add", ns_ip_ + "/30", "dev", ns_if_},
             {"netns", "exec", ns_, ip_, "link", "set", ns_if_, "up"},
             {"netns", "exec", ns_, ip_, "link", "set", "lo", "up"}})
      if (ip(cmd) != 0)
        return fmt::format("`ip {}` failed: {}", fmt::join(cmd, " "), last_output_);
    return {};
  }

  void set_link(bool up) {
    INFO(last_output_);
    REQUIRE(ip({"link", "set", host_if_, up ? "up" : "down"}) == 0);
  }

  std::vector<std::string> exec_prefix() const { return {ip_, "netns", "exec", ns_}; }
  const std::string& host_ip() const { return host_ip_; }
  const std::string& ns_ip() const { return ns_ip_; }

private:
  int ip(const std::vector<std::string>& args) {
    if (ip_.empty())
      return -1;
    std::vector<std::string> cmd{ip_};
    cmd.insert(cmd.end(), args.begin(), args.end());
    const auto log = dir_ / "ip.log";
    const int rc = test::run_to_end(cmd, log.string());
    last_output_ = test::slurp(log);
    return rc;
  }

  void remove_stale() {
    if (ip({"netns", "list"}) != 0)
      return;
    std::istringstream in(last_output_);
    std::string line;
    std::vector<std::string> stale;
    while (std::getline(in, line)) {
      const auto name = line.substr(0, line.find(' '));
      if (name.rfind("troupe-ft-", 0) != 0)
        continue;
      const auto pid = static_cast<pid_t>(std::atol(name.c_str() + 10));
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH)
        stale.push_back(name);
    }
    for (const auto& name : stale)
      ip({"netns", "del", name});
  }

  std::filesystem::path dir_;
  std::string ip_, ns_, host_if_, ns_if_, host_ip_, ns_ip_, last_output_;
  bool ns_made_ = false, link_made_ = false;
};

/// A free TCP port on `host` (released again: the node binds it a moment later).
std::uint16_t free_port(const std::string& host) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  REQUIRE(::inet_pton(AF_INET, host.c_str(), &a.sin_addr) == 1);
  socklen_t len = sizeof(a);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// One YAML for all four nodes: agg, loader and t0 on the host end of the veth link, t1 on the namespace's end.
std::map<std::string, std::filesystem::path> veth_configs(const std::filesystem::path& dir, const netns_link& net) {
  auto yaml = test::topology_yaml(fault_case(), dir);
  std::set<std::uint16_t> used;
  for (const std::string node : {"agg", "loader", "t0"}) {
    std::uint16_t port = 0;
    do
      port = free_port(net.host_ip());
    while (!used.insert(port).second);
    yaml = test::replace_all(yaml, quoted(ipc_endpoint(dir, node)),
                             quoted(fmt::format("tcp://{}:{}", net.host_ip(), port)));
  }
  yaml = test::replace_all(yaml, quoted(ipc_endpoint(dir, "t1")), quoted(fmt::format("tcp://{}:7101", net.ns_ip())));
  REQUIRE(yaml.find("ipc://") == std::string::npos);
  // A private test link between two ends on this machine: plaintext is fine (no CURVE keys to make).
  const std::string anchor = "  connect_timeout_s: 20\n";
  REQUIRE(yaml.find(anchor) != std::string::npos);
  yaml.insert(yaml.find(anchor) + anchor.size(), "  security: {curve: off, allow_plaintext: true}\n");
  const auto path = dir / "topology.yaml";
  std::ofstream(path) << yaml;
  std::map<std::string, std::filesystem::path> out;
  for (const auto& [name, role] : nodes)
    out[name] = path;
  return out;
}

} // namespace

TEST_CASE("a trainer in its own network namespace, its veth link down past the heartbeat timeout and up again",
          "[multiprocess][faults][netns]") {
  test::scratch_dir ref("netns-ref"), dir("netns-partition");
  netns_link net(dir.path); // declared before the runs: removed after their processes are gone
  if (const auto why = net.setup(); !why.empty()) {
    // CTest turns this line into SKIPPED (SKIP_REGULAR_EXPRESSION); it never counts as a pass.
    std::cout << "TROUPE_TEST_SKIPPED: network namespaces unavailable: " << why << std::endl;
    return;
  }
  // The reference runs over the same veth link, fault-free.
  {
    const auto out = run_four(ref.path, veth_configs(ref.path, net), {}, net.exec_prefix());
    INFO(out.logs);
    REQUIRE(out.failures == ""); // names the process that did not exit 0
  }
  const auto out = run_four(
      dir.path, veth_configs(dir.path, net),
      [&] {
        partition_t1(
            dir.path, [&] { net.set_link(false); }, [&] { net.set_link(true); });
      },
      net.exec_prefix());
  require_partition_outcome(out, dir.path, ref.path);
}
