#include "observe/svg_plot.hpp"

#include <catch2/catch.hpp>

using namespace troupe::observe;

TEST_CASE("ticks are round numbers covering the range", "[observe][svg_plot]") {
  CHECK(nice_ticks(0, 10) == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(nice_ticks(0.3, 0.92) == std::vector<double>{0.4, 0.6, 0.8});
  const auto t = nice_ticks(1795, 1795); // degenerate range is widened
  CHECK(t.size() >= 2);
  CHECK(nice_ticks(10, 100, 5).front() == 20);
}

TEST_CASE("a line plot is an SVG with its title, series, markers and escaped text", "[observe][svg_plot]") {
  line_plot p{"Loss <vs> step", "step", "loss", {}, {{2.5, "trainer-0 & co"}}};
  p.lines.push_back({"train", {{0, 1.0}, {1, 0.5}, {2, std::nan("")}, {3, 0.25}}, "", true});
  const auto svg = render_svg(p, 400, 300);
  CHECK_THAT(svg, Catch::StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"300\""));
  CHECK_THAT(svg, Catch::EndsWith("</svg>\n"));
  CHECK_THAT(svg, Catch::Contains("<title>Loss &lt;vs&gt; step</title>"));
  CHECK_THAT(svg, Catch::Contains("trainer-0 &amp; co"));
  CHECK_THAT(svg, Catch::Contains("class=\"restart-marker\""));
  // The NaN starts a new sub-path: two M commands in one path.
  const auto d = svg.find("d=\"M");
  REQUIRE(d != std::string::npos);
  CHECK(svg.find(" M", d) < svg.find("\"", d + 4));
  CHECK(svg.find("no data") == std::string::npos);
}

TEST_CASE("empty plots say so", "[observe][svg_plot]") {
  CHECK_THAT(render_svg(line_plot{"Empty", "x", "y", {}, {}}), Catch::Contains("no data"));
  CHECK_THAT(render_svg(bar_chart{"Staleness", "s", "n", {}}), Catch::Contains("no data"));
  const auto bars = render_svg(bar_chart{"Staleness", "s", "n", {{"0", 94}, {"3", 58}}});
  CHECK_THAT(bars, Catch::Contains("class=\"bar\"") && Catch::Contains("<title>3: 58</title>"));
}
