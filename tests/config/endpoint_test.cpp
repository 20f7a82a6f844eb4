#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/endpoint.hpp"

using Catch::Contains;
using Catch::Equals;
using troupe::config::endpoint_address;
using troupe::config::parse_endpoint;
using troupe::config::transport;

TEST_CASE("endpoints of the three transports parse into their parts", "[config][topology][endpoint]") {
  const endpoint_address tcp = parse_endpoint("tcp://10.1.2.3:5701");
  CHECK(tcp.kind == transport::tcp);
  CHECK(tcp.host == "10.1.2.3");
  CHECK(tcp.port == 5701);
  CHECK_FALSE(tcp.ephemeral());
  CHECK(to_string(tcp) == "tcp://10.1.2.3:5701");

  CHECK(parse_endpoint("tcp://127.0.0.1:*").ephemeral());
  CHECK(parse_endpoint("tcp://localhost:0").ephemeral());
  CHECK(to_string(parse_endpoint("tcp://127.0.0.1:*")) == "tcp://127.0.0.1:0");
  CHECK(to_string(parse_endpoint("tcp://host-1.example.org:05701")) == "tcp://host-1.example.org:5701");

  const endpoint_address v6 = parse_endpoint("tcp://[::1]:5701");
  CHECK(v6.host == "::1");
  CHECK(to_string(v6) == "tcp://[::1]:5701");

  const endpoint_address ipc = parse_endpoint("ipc:///tmp/troupe.sock");
  CHECK(ipc.kind == transport::ipc);
  CHECK(ipc.name == "/tmp/troupe.sock");
  const endpoint_address inproc = parse_endpoint("inproc://main");
  CHECK(inproc.kind == transport::inproc);
  CHECK(inproc.name == "main");
  CHECK(to_string(inproc) == "inproc://main");
  CHECK(to_string(transport::ipc) == "ipc");
}

TEST_CASE("malformed endpoints say what was expected", "[config][topology][endpoint]") {
  REQUIRE_THROWS_AS(parse_endpoint("127.0.0.1:5701"), troupe::error);
  REQUIRE_THROWS_WITH(parse_endpoint("127.0.0.1:5701"),
                      Equals("expected inproc://name, tcp://host:port (port 0 or * = any free port) or ipc://path, "
                             "got '127.0.0.1:5701'"));
  REQUIRE_THROWS_WITH(parse_endpoint("tpc://h:1"), Contains("unknown transport 'tpc' (did you mean 'tcp'?)"));
  REQUIRE_THROWS_WITH(parse_endpoint("pgm://h:1"), Contains("unknown transport 'pgm'; expected inproc://name"));
  REQUIRE_THROWS_WITH(parse_endpoint("tcp://127.0.0.1"),
                      Equals("bad tcp endpoint 'tcp://127.0.0.1': the port is missing; expected tcp://host:port, "
                             "e.g. tcp://127.0.0.1:5701"));
  REQUIRE_THROWS_WITH(parse_endpoint("tcp://:5701"), Contains("the host is missing"));
  REQUIRE_THROWS_WITH(parse_endpoint("tcp://*:5701"), Contains("'*' (any interface) is only good for binding"));
  REQUIRE_THROWS_WITH(parse_endpoint("tcp://h:70000"), Contains("the port '70000' is not a number in [0, 65535]"));
  REQUIRE_THROWS_WITH(parse_endpoint("tcp://h:-1"), Contains("the port '-1' is not a number"));
  REQUIRE_THROWS_WITH(parse_endpoint("tcp://::1:5701"), Contains("an IPv6 address goes in brackets"));
  REQUIRE_THROWS_WITH(parse_endpoint("tcp://[::1:5701"), Contains("is not closed with ']'"));
  REQUIRE_THROWS_WITH(parse_endpoint("tcp://a/b:1"), Contains("'/' is not allowed in a host name"));
  REQUIRE_THROWS_WITH(parse_endpoint("inproc://"), Equals("expected inproc://name without spaces, got 'inproc://'"));
  REQUIRE_THROWS_WITH(parse_endpoint("ipc://a b"), Equals("expected ipc://path without spaces, got 'ipc://a b'"));
}
