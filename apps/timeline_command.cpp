// `troupe-node timeline`: a Chrome-trace / Perfetto timeline of every actor's spans (observe/timeline.hpp).

#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/commands.hpp"
#include "observe/timeline.hpp"

namespace troupe::apps {

int timeline_command(int argc, char** argv) {
  std::string dir, out = "timeline.json";
  CLI::App app{"Writes a Chrome-trace / Perfetto timeline of every actor's spans, all nodes on one time axis"};
  app.name("troupe-node timeline");
  app.add_option("dir", dir, "Run directory holding metrics/, or the metrics directory itself")->required();
  app.add_option("-o,--output", out, "Trace JSON to write (open in ui.perfetto.dev or chrome://tracing)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    observe::write_timeline(dir, out);
    std::cout << "troupe-node timeline: wrote " << out << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "troupe-node timeline: error: " << e.what() << '\n';
    return 1;
  }
}

} // namespace troupe::apps
