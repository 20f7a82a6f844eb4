/// cluster.security: when CURVE is on, what every node must have, and the refusal to listen in plaintext off this
/// machine.

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/topology.hpp"
#include "topology_fixtures.hpp"

using troupe::config::parse_topology;
using troupe_test::check_rejected;
using troupe_test::doc;
using troupe_test::model_line;

namespace {

// Three valid Z85 keys (any 40 characters of the alphabet pass the syntax check).
const std::string k1 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const std::string k2 = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
const std::string k3 = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

std::string node(const std::string& name, const std::string& role, const std::string& host, int port,
                 const std::string& key = "") {
  return fmt::format("    - {{name: {}, roles: [{}], endpoint: 'tcp://{}:{}'{}}}\n", name, role, host, port,
                     key.empty() ? "" : ", public_key: '" + key + "'");
}

std::string with_security(const std::string& nodes, const std::string& security) {
  return "cluster:\n  id: c\n  security: " + security + "\n  nodes:\n" + nodes + "job:\n" + model_line;
}

} // namespace

TEST_CASE("loopback clusters run in plaintext by default; curve: on needs every key", "[config][security]") {
  const auto plain = parse_topology(doc(troupe_test::three), "ok.yaml", {}, "/cfg");
  CHECK_FALSE(plain.cluster.security.curve);
  CHECK(plain.cluster.security.curve_setting == "auto");
  CHECK(plain.cluster.security.key_dir == "/cfg/keys");

  const auto keyed = parse_topology(with_security(node("agg", "aggregator", "127.0.0.1", 5701, k1) +
                                                      node("ld", "loader", "127.0.0.1", 5702, k2) +
                                                      node("t0", "trainer", "127.0.0.1", 5703, k3),
                                                  "{curve: on, key_dir: /etc/troupe/keys}"),
                                    "ok.yaml", {}, "/cfg");
  CHECK(keyed.cluster.security.curve);
  CHECK(keyed.cluster.security.key_dir == "/etc/troupe/keys");
  CHECK(keyed.cluster.nodes[2].public_key == k3);
  CHECK(troupe::config::key_file_of(keyed.cluster, "t0") == "/etc/troupe/keys/t0.key");
}

TEST_CASE("a non-loopback endpoint turns CURVE on, and plaintext there needs an explicit opt-out",
          "[config][security]") {
  const std::string exposed = node("agg", "aggregator", "10.1.2.3", 5701, k1) +
                              node("ld", "loader", "127.0.0.1", 5702, k2) + node("t0", "trainer", "10.1.2.4", 5703, k3);
  const auto t = parse_topology(doc(exposed), "ok.yaml");
  CHECK(t.cluster.security.curve); // auto

  const auto opted_out = parse_topology(with_security(node("agg", "aggregator", "10.1.2.3", 5701) +
                                                          node("ld", "loader", "127.0.0.1", 5702) +
                                                          node("t0", "trainer", "127.0.0.1", 5703),
                                                      "{curve: off, allow_plaintext: true}"),
                                        "ok.yaml");
  CHECK_FALSE(opted_out.cluster.security.curve);

  check_rejected({
      {"plaintext on a non-loopback address",
       with_security(node("agg", "aggregator", "10.1.2.3", 5701) + node("ld", "loader", "127.0.0.1", 5702) +
                         node("t0", "trainer", "127.0.0.1", 5703),
                     "{curve: off}"),
       "bad.yaml:5:50", "cluster.nodes[0].endpoint",
       "node 'agg' would listen on tcp://10.1.2.3:5701, which is not a loopback address, in plaintext "
       "(cluster.security.curve: off)"},
      {"auto without keys",
       doc(node("agg", "aggregator", "0.0.0.0", 5701) + node("ld", "loader", "127.0.0.1", 5702) +
           node("t0", "trainer", "127.0.0.1", 5703)),
       "bad.yaml:4:7", "cluster.nodes[0]",
       "node 'agg' has no public_key, but CURVE is on (cluster.security.curve: auto, and node 'agg' listens on "
       "tcp://0.0.0.0:5701); run `troupe-node keygen --name agg --dir keys`"},
      {"curve on with one key missing",
       with_security(node("agg", "aggregator", "127.0.0.1", 5701, k1) + node("ld", "loader", "127.0.0.1", 5702) +
                         node("t0", "trainer", "127.0.0.1", 5703, k3),
                     "{curve: on}"),
       "bad.yaml:6:7", "cluster.nodes[1]", "node 'ld' has no public_key, but CURVE is on (cluster.security.curve: on)"},
      {"a key shared by two nodes",
       with_security(node("agg", "aggregator", "127.0.0.1", 5701, k1) + node("ld", "loader", "127.0.0.1", 5702, k1) +
                         node("t0", "trainer", "127.0.0.1", 5703, k3),
                     "{curve: on}"),
       "bad.yaml:6:81", "cluster.nodes[1].public_key",
       "node 'ld' has the same public_key as node 'agg' (cluster.nodes[0]); each node needs a key pair of its own"},
      {"a malformed key",
       doc(node("agg", "aggregator", "127.0.0.1", 5701, "abc") + node("ld", "loader", "127.0.0.1", 5702) +
           node("t0", "trainer", "127.0.0.1", 5703)),
       "bad.yaml:4:86", "cluster.nodes[0].public_key",
       "expected a CURVE public key of 40 Z85 characters as `troupe-node keygen` prints it, got 'abc' (3 characters)"},
      {"an unknown curve setting", with_security(troupe_test::three, "{curve: maybe}"), "bad.yaml:3:21",
       "cluster.security.curve", "unknown curve setting 'maybe'"},
      {"an unknown security key", with_security(troupe_test::three, "{curv: on}"), "bad.yaml:3:14",
       "cluster.security.curv", "unknown key 'curv' (did you mean 'curve'?)"},
  });
}
