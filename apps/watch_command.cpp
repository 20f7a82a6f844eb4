// `troupe-node watch`: the live view of a run's metrics logs (observe/watch.hpp).

#include <iostream>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "apps/commands.hpp"
#include "observe/watch.hpp"

namespace troupe::apps {

int watch_command(int argc, char** argv) {
  observe::watch_options o;
  bool no_color = false;
  CLI::App app{"Live view of a run's metrics logs: one row per actor across all nodes"};
  app.name("troupe-node watch");
  app.add_option("dir", o.dir, "Metrics directory (the <node>.jsonl files), or a run directory holding metrics/")
      ->required();
  app.add_flag("--once", o.once, "Print the view once and exit (no screen clearing)");
  app.add_option("--interval", o.interval_s, "Seconds between refreshes of the live view")->check(CLI::PositiveNumber);
  app.add_flag("--no-color", no_color, "No ANSI colours even on a terminal");
  app.add_flag("--peers", o.peers,
               "One row per link instead: round trip, bytes and messages per peer, refusals; then queue depths");
  CLI11_PARSE(app, argc, argv);
  o.style.color = !no_color && ::isatty(STDOUT_FILENO) != 0;
  catch_stop_signals();
  return observe::run_watch(o, std::cout, &stop_requested());
}

} // namespace troupe::apps
