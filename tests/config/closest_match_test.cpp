#include <catch2/catch.hpp>

#include "config/closest_match.hpp"

using troupe::config::closest_match;
using troupe::config::edit_distance;

TEST_CASE("edit_distance counts inserts, deletes, substitutions and neighbour swaps", "[config][yaml]") {
  CHECK(edit_distance("kernel", "kernel") == 0);
  CHECK(edit_distance("kernal", "kernel") == 1);  // substitution
  CHECK(edit_distance("kerel", "kernel") == 1);   // insertion
  CHECK(edit_distance("kernnel", "kernel") == 1); // deletion
  CHECK(edit_distance("kenrel", "kernel") == 1);  // transposition
  CHECK(edit_distance("Relu", "relu") == 0);      // case-insensitive
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("stride", "padding") > 2);
}

TEST_CASE("closest_match suggests only near candidates, the first one on ties", "[config][yaml]") {
  const std::vector<std::string> keys = {"out_channels", "kernel", "stride", "padding", "p"};
  CHECK(closest_match("kernal", keys) == std::optional<std::string>("kernel"));
  CHECK(closest_match("strides", keys) == std::optional<std::string>("stride"));
  CHECK_FALSE(closest_match("dilation", keys).has_value());
  // A one-letter key is one edit from every other letter: no suggestion.
  CHECK_FALSE(closest_match("q", keys).has_value());
  CHECK(closest_match("ab", {"xb", "ay"}) == std::optional<std::string>("xb"));
}
