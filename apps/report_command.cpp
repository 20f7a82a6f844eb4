// `troupe-node report`: one self-contained HTML report of a run (observe/report.hpp).

#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/commands.hpp"
#include "observe/report.hpp"

namespace troupe::apps {

int report_command(int argc, char** argv) {
  std::string dir, out = "report.html";
  CLI::App app{"Writes one self-contained HTML report (plots, no network needed) for a run"};
  app.name("troupe-node report");
  app.add_option("dir", dir, "Run directory holding metrics/, or the metrics directory itself")->required();
  app.add_option("-o,--output", out, "HTML file to write")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    observe::write_report(dir, out);
    std::cout << "troupe-node report: wrote " << out << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "troupe-node report: error: " << e.what() << '\n';
    return 1;
  }
}

} // namespace troupe::apps
