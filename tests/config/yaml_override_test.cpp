#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/yaml_override.hpp"
#include "config/yaml_util.hpp"

using Catch::Contains;
using Catch::Equals;
using troupe::config::apply_overrides;
using troupe::config::override_kv;
using troupe::config::parse_override;
using troupe::config::parse_yaml;
using troupe::config::value_origin;
using troupe::config::yaml_cursor;

namespace {

/// `text` parsed, `overrides` applied, as a cursor that cites them.
yaml_cursor overridden(const std::string& text, const std::vector<std::string>& args) {
  std::vector<override_kv> kvs;
  for (const auto& a : args)
    kvs.push_back(parse_override(a));
  YAML::Node tree = parse_yaml(text, "t.yaml").node();
  auto origins = apply_overrides(tree, kvs, "t.yaml");
  return yaml_cursor(tree, "t.yaml").with_origins(std::move(origins));
}

} // namespace

TEST_CASE("parse_override splits at the first '=' and canonicalises the path", "[config][topology][override]") {
  const override_kv kv = parse_override("job.epochs=1");
  CHECK(kv.path == "job.epochs");
  CHECK(kv.value == "1");
  CHECK(parse_override("cluster.nodes[01].endpoint=tcp://h:1").path == "cluster.nodes[1].endpoint");
  CHECK(parse_override("job.model=a=b.yaml").value == "a=b.yaml");
  CHECK(parse_override(" job.epochs =2").path == "job.epochs");
  CHECK(parse_override("job.model=").value.empty());
  CHECK(parse_override("cluster.nodes[0].roles=[aggregator, trainer]").value == "[aggregator, trainer]");
}

TEST_CASE("parse_override says which form it expected", "[config][topology][override]") {
  REQUIRE_THROWS_AS(parse_override("job.epochs"), troupe::error);
  REQUIRE_THROWS_WITH(parse_override("job.epochs"),
                      Equals("--set job.epochs: expected key.path=value, e.g. --set job.epochs=1"));
  REQUIRE_THROWS_WITH(parse_override("=3"), Contains("--set =3: the key path before '=' is empty"));
  REQUIRE_THROWS_WITH(parse_override("job..epochs=1"),
                      Equals("--set job..epochs=1: bad key path 'job..epochs': unexpected '.' at position 5; "
                             "expected names joined by '.', with [N] after a name for a sequence element, "
                             "e.g. cluster.nodes[1].endpoint"));
  REQUIRE_THROWS_WITH(parse_override("job.=1"), Contains("bad key path 'job.': it ends with '.'"));
  REQUIRE_THROWS_WITH(parse_override("nodes[x].name=a"),
                      Contains("bad key path 'nodes[x].name': '[x]' is not a sequence index"));
  REQUIRE_THROWS_WITH(parse_override("nodes[1.name=a"), Contains("'[' at position 6 is not closed"));
  REQUIRE_THROWS_WITH(parse_override("[1]=a"), Contains("unexpected '[' at position 1"));
  REQUIRE_THROWS_WITH(parse_override("job epochs=1"), Contains("unexpected ' ' at position 4"));
  REQUIRE_THROWS_WITH(parse_override("job.roles=[a, b"),
                      Contains("--set job.roles=[a, b: the value '[a, b' is not valid YAML"));
  REQUIRE_THROWS_WITH(parse_override("job.model=a: b"),
                      Contains("--set job.model=a: b: the value 'a: b' is not a single value; quote it"));
}

TEST_CASE("overrides replace values with YAML-typed scalars and flow collections", "[config][topology][override]") {
  const auto c = overridden("a: {b: 1, c: x}\nlist: [{k: 1}, {k: 2}]\n",
                            {"a.b=2", "a.c='quoted text'", "list[1].k=0.5", "a.d=[p, q]", "a.e=true"});
  CHECK(c.child("a").required<int>("b") == 2);
  CHECK(c.child("a").required<std::string>("c") == "quoted text");
  CHECK(c.child("list").items()[1].required<double>("k") == 0.5);
  CHECK(c.child("list").items()[0].required<int>("k") == 1);
  REQUIRE(c.child("a").child("d").items().size() == 2);
  CHECK(c.child("a").child("d").items()[1].as<std::string>() == "q");
  CHECK(c.child("a").required<bool>("e"));
  CHECK(overridden("r: [x]\n", {"r=[aggregator,trainer]"}).child("r").items()[1].as<std::string>() == "trainer");
  // Untouched values still cite the file; overridden ones cite the override.
  CHECK(c.child("list").items()[0].child("k").where() == "t.yaml:2:12");
  CHECK(c.child("a").child("b").where() == "--set a.b=2");
  CHECK(c.child("a").child("d").items()[0].where() == "--set a.d=[p, q]");
}

TEST_CASE("overrides create missing mappings, also in an empty document or an empty value",
          "[config][topology][override]") {
  const auto c = overridden("a: 1\nempty:\n", {"x.y.z=3", "empty.k=v"});
  CHECK(c.child("x").child("y").required<int>("z") == 3);
  CHECK(c.child("empty").required<std::string>("k") == "v");
  CHECK(c.required<int>("a") == 1);
  CHECK(overridden("", {"a.b=1"}).child("a").required<int>("b") == 1);
  // A later override of the same path wins.
  CHECK(overridden("a: 1\n", {"a=2", "a=3"}).required<int>("a") == 3);
}

TEST_CASE("errors about overridden values cite the override instead of the file", "[config][topology][override]") {
  const auto c = overridden("a:\n  b: 1\n  n: 2\n", {"a.b=abc", "x.y=1"});
  REQUIRE_THROWS_WITH(c.child("a").required<int>("b"), Equals("--set a.b=abc: a.b: expected an integer, got 'abc'"));
  REQUIRE_THROWS_WITH(c.child("a").check_keys({"b"}), Equals("t.yaml:3:3: a.n: unknown key 'n'; allowed keys: b"));
  // A mapping the override created has no position: errors in it cite the override that made it.
  REQUIRE_THROWS_WITH(c.child("x").required<int>("z"), Equals("--set x.y=1: x.z: missing required key 'z'"));
  REQUIRE_THROWS_WITH(overridden("a: 1\n", {"a.b=1"}), Contains("--set a.b=1: a: cannot set 'b' inside a: it is the "
                                                                "value '1' at t.yaml:1:4, not a mapping"));
}

TEST_CASE("an override path must fit the document's sequences", "[config][topology][override]") {
  REQUIRE_THROWS_WITH(overridden("list: [1, 2]\n", {"list[2]=3"}),
                      Equals("--set list[2]=3: list[2]: no such element; list has 2 elements"));
  REQUIRE_THROWS_WITH(overridden("list: {a: 1}\n", {"list[0].a=3"}),
                      Equals("--set list[0].a=3: list: cannot take element [0] of list: it is a mapping at "
                             "t.yaml:1:7, not a sequence"));
  REQUIRE_THROWS_WITH(overridden("a: 1\n", {"list[0]=3"}),
                      Equals("--set list[0]=3: list: there is no sequence list to take element [0] of; an override "
                             "can only replace existing elements"));
}

TEST_CASE("origin() names the override a value came from", "[config][topology][override]") {
  const auto c = overridden("a: {b: 1, c: 2}\n", {"a.b=5"});
  REQUIRE(c.child("a").child("b").origin() != nullptr);
  CHECK(c.child("a").child("b").origin()->label == "--set a.b=5");
  CHECK(c.child("a").child("c").origin() == nullptr);
  CHECK(c.child("a").origin() == nullptr);
}
