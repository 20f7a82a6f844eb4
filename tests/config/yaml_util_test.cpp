#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "common/error.hpp"
#include "config/yaml_util.hpp"

using Catch::Contains;
using Catch::Equals;
using troupe::config::bounds;
using troupe::config::load_yaml_file;
using troupe::config::parse_yaml;
using troupe::config::yaml_cursor;

namespace {

/// A document whose scalars sit at known places: "opts" is the mapping at 2:3 (1-based).
const char* const options_doc = R"(opts:
  kernel: 3
  bad: abc
  neg: -3
  rate: 0.25
  flag: yes
  name: hello
  empty:
  big: 99999999999999999999
)";

yaml_cursor opts() {
  return parse_yaml(options_doc, "t.yaml").child("opts");
}

} // namespace

TEST_CASE("parse_yaml rethrows syntax errors with file:line:column", "[config][yaml]") {
  REQUIRE_THROWS_AS(parse_yaml("a: [1, 2\nb: 3\n", "t.yaml"), troupe::error);
  REQUIRE_THROWS_WITH(parse_yaml("a: [1, 2\nb: 3\n", "t.yaml"),
                      Equals("t.yaml:2:2: YAML syntax error: end of sequence flow not found"));
  REQUIRE_THROWS_WITH(parse_yaml("a: b: c\n", "t.yaml"), Equals("t.yaml:1:5: YAML syntax error: illegal map value"));
}

TEST_CASE("load_yaml_file reads a file and cites its path", "[config][yaml]") {
  const auto path = std::filesystem::temp_directory_path() / "troupe_yaml_util_test.yaml";
  {
    std::ofstream out(path);
    out << "a: 1\nb: [2, 3\n";
  }
  REQUIRE_THROWS_WITH(load_yaml_file(path.string()),
                      Equals(path.string() + ":3:1: YAML syntax error: end of sequence flow not found"));
  {
    std::ofstream out(path);
    out << "a: 1\n";
  }
  CHECK(load_yaml_file(path.string()).required<int>("a") == 1);
  CHECK(load_yaml_file(path.string()).source() == path.string());
  std::filesystem::remove(path);
  REQUIRE_THROWS_WITH(load_yaml_file(path.string()), Contains(path.string() + ": cannot open"));
}

TEST_CASE("integer getters read numbers within their bounds", "[config][yaml]") {
  const auto c = opts();
  CHECK(c.required<int>("kernel") == 3);
  CHECK(c.required<std::size_t>("kernel", bounds::positive()) == 3u);
  CHECK(c.required<unsigned>("kernel", bounds::closed(3, 3)) == 3u);
  CHECK(c.required<long long>("neg") == -3);
  CHECK(parse_yaml("+7", "t.yaml").as<int>() == 7);
}

TEST_CASE("integer getters say which integer was expected and what was found", "[config][yaml]") {
  const auto c = opts();
  REQUIRE_THROWS_WITH(c.required<std::size_t>("bad", bounds::positive()),
                      Equals("t.yaml:3:8: opts.bad: expected a positive integer, got 'abc'"));
  REQUIRE_THROWS_WITH(c.required<std::size_t>("neg", bounds::positive()),
                      Equals("t.yaml:4:8: opts.neg: expected a positive integer, got '-3'"));
  REQUIRE_THROWS_WITH(c.required<unsigned>("neg"),
                      Equals("t.yaml:4:8: opts.neg: expected a non-negative integer, got '-3'"));
  REQUIRE_THROWS_WITH(c.required<int>("kernel", bounds::closed(4, 8)),
                      Equals("t.yaml:2:11: opts.kernel: expected an integer in [4, 8], got '3'"));
  REQUIRE_THROWS_WITH(c.required<int>("neg", bounds::at_least(-2)),
                      Equals("t.yaml:4:8: opts.neg: expected an integer >= -2, got '-3'"));
  REQUIRE_THROWS_WITH(c.required<int>("rate"), Equals("t.yaml:5:9: opts.rate: expected an integer, got '0.25'"));
  REQUIRE_THROWS_WITH(c.required<int>("big"),
                      Contains("expected an integer, got '99999999999999999999' (at most 2147483647)"));
  REQUIRE_THROWS_WITH(c.required<std::uint64_t>("big"), Contains("(at most 18446744073709551615)"));
}

TEST_CASE("floating getters read finite numbers within their bounds", "[config][yaml]") {
  const auto c = opts();
  CHECK(c.required<double>("rate") == 0.25);
  CHECK(c.required<float>("rate", bounds::half_open(0, 1)) == 0.25f);
  CHECK(c.required<double>("kernel") == 3.0);
  REQUIRE_THROWS_WITH(c.required<double>("kernel", bounds::half_open(0, 1)),
                      Equals("t.yaml:2:11: opts.kernel: expected a number in [0, 1), got '3'"));
  REQUIRE_THROWS_WITH(c.required<double>("neg", bounds::positive()),
                      Equals("t.yaml:4:8: opts.neg: expected a positive number, got '-3'"));
  REQUIRE_THROWS_WITH(c.required<float>("bad"), Equals("t.yaml:3:8: opts.bad: expected a number, got 'abc'"));
  REQUIRE_THROWS_WITH(parse_yaml(".inf", "t.yaml").as<double>(), Contains("expected a number, got '.inf'"));
  // 0.999999999 rounds to 1.0f: the float that would be stored is out of [0, 1).
  REQUIRE_THROWS_WITH(parse_yaml("0.999999999", "t.yaml").as<float>(bounds::half_open(0, 1)),
                      Contains("expected a number in [0, 1)"));
}

TEST_CASE("bool and string getters", "[config][yaml]") {
  const auto c = opts();
  CHECK(c.required<bool>("flag"));
  CHECK(parse_yaml("false", "t.yaml").as<bool>() == false);
  CHECK(c.required<std::string>("name") == "hello");
  CHECK(c.required<std::string>("kernel") == "3");
  REQUIRE_THROWS_WITH(c.required<bool>("bad"),
                      Equals("t.yaml:3:8: opts.bad: expected a boolean (true or false), got 'abc'"));
  REQUIRE_THROWS_WITH(parse_yaml("a: [x]", "t.yaml").required<std::string>("a"),
                      Equals("t.yaml:1:4: a: expected a string, got a sequence"));
}

TEST_CASE("optional getters return nothing for an absent key but reject an empty value", "[config][yaml]") {
  const auto c = opts();
  CHECK_FALSE(c.optional<int>("stride").has_value());
  CHECK(c.optional<int>("kernel") == std::optional<int>(3));
  // yaml-cpp places an empty value at the next token (line 9); the error points at its key instead.
  REQUIRE_THROWS_WITH(c.optional<int>("empty"),
                      Equals("t.yaml:8:3: opts.empty: expected an integer, got null (an empty value)"));
}

TEST_CASE("a missing required key is reported at the parent mapping with the full key path", "[config][yaml]") {
  REQUIRE_THROWS_WITH(opts().required<int>("stride"), Equals("t.yaml:2:3: opts.stride: missing required key 'stride'"));
  REQUIRE_THROWS_WITH(parse_yaml("x: 1\nouter: {inner: {a: 1}}\n", "t.yaml").child("outer").child("inner").child("b"),
                      Equals("t.yaml:2:16: outer.inner.b: missing required key 'b'"));
  // An empty section counts as an empty mapping: its key's position is cited.
  REQUIRE_THROWS_WITH(parse_yaml("x: 1\nsection:\n", "t.yaml").child("section").required<int>("a"),
                      Equals("t.yaml:2:1: section.a: missing required key 'a'"));
}

TEST_CASE("unknown keys are named, the closest allowed key is suggested and all are listed", "[config][yaml]") {
  const auto c = parse_yaml("opts: {kernel: 3, strid: 2}\n", "t.yaml").child("opts");
  REQUIRE_THROWS_WITH(c.check_keys({"kernel", "stride", "padding"}),
                      Equals("t.yaml:1:19: opts.strid: unknown key 'strid' (did you mean 'stride'?); "
                             "allowed keys: kernel, stride, padding"));
  REQUIRE_THROWS_WITH(c.check_keys({"kernel", "padding"}),
                      Equals("t.yaml:1:19: opts.strid: unknown key 'strid'; allowed keys: kernel, padding"));
  REQUIRE_THROWS_WITH(c.check_keys({}), Contains("opts.kernel: unknown key 'kernel'; this mapping takes no keys"));
  CHECK_NOTHROW(c.check_keys({"kernel", "strid"}));
}

TEST_CASE("duplicate keys are rejected at the second occurrence", "[config][yaml]") {
  REQUIRE_THROWS_WITH(parse_yaml("a: 1\nb: 2\na: 3\n", "t.yaml").check_keys({"a", "b"}),
                      Equals("t.yaml:3:1: a: duplicate key 'a' (first given at line 1, column 1)"));
}

TEST_CASE("a node of the wrong kind says what was expected and what was found", "[config][yaml]") {
  const auto root = parse_yaml("m: {a: 1}\ns: [1, 2]\nv: text\n", "t.yaml");
  REQUIRE_THROWS_WITH(root.child("s").expect_map(),
                      Equals("t.yaml:2:4: s: expected a mapping (key: value), got a sequence"));
  REQUIRE_THROWS_WITH(root.child("v").child("x"), Equals("t.yaml:3:4: v: expected a mapping (key: value), got 'text'"));
  REQUIRE_THROWS_WITH(root.child("m").items(), Equals("t.yaml:1:4: m: expected a sequence, got a mapping"));
  REQUIRE_THROWS_WITH(root.child("m").expect_scalar(), Equals("t.yaml:1:4: m: expected a single value, got a mapping"));
  REQUIRE_THROWS_WITH(root.child("s").as<int>(), Equals("t.yaml:2:4: s: expected an integer, got a sequence"));
  CHECK_NOTHROW(root.child("v").expect_scalar());
}

TEST_CASE("sequence items carry indexed key paths and their own positions", "[config][yaml]") {
  const auto items = parse_yaml("list:\n  - {k: 1}\n  - {k: x}\n", "t.yaml").child("list").items();
  REQUIRE(items.size() == 2);
  CHECK(items[1].path() == "list[1]");
  CHECK(items[1].where() == "t.yaml:3:5");
  CHECK(items[0].required<int>("k") == 1);
  REQUIRE_THROWS_WITH(items[1].required<int>("k"), Equals("t.yaml:3:9: list[1].k: expected an integer, got 'x'"));
}

TEST_CASE("as_choice accepts listed words and suggests the closest for others", "[config][yaml]") {
  const auto root = parse_yaml("loss: msee\nother: mse\n", "t.yaml");
  const std::vector<std::string> losses = {"softmax_cross_entropy", "mse"};
  CHECK(root.child("other").as_choice(losses, "loss") == "mse");
  REQUIRE_THROWS_WITH(root.child("loss").as_choice(losses, "loss"),
                      Equals("t.yaml:1:7: loss: unknown loss 'msee' (did you mean 'mse'?); "
                             "expected one of: softmax_cross_entropy, mse"));
}

TEST_CASE("fail and where cite the node's 1-based position", "[config][yaml]") {
  const auto c = parse_yaml("\n\n   x: 1\n", "t.yaml").child("x");
  CHECK(c.where() == "t.yaml:3:7");
  REQUIRE_THROWS_WITH(c.fail("too small"), Equals("t.yaml:3:7: x: too small"));
  REQUIRE_THROWS_WITH(parse_yaml("", "t.yaml").fail("empty"), Equals("t.yaml:1:1: empty"));
}
