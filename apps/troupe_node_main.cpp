// troupe-node: runs one node (or, with --role all, every node) of a Troupe topology, and reads runs.
//
//   ./build/apps/troupe-node --role all --config examples/fmnist-local.yaml
//   ./build/apps/troupe-node --role aggregator --config examples/fmnist-2trainers.yaml
//   ./build/apps/troupe-node --role trainer --name t0 --config examples/fmnist-2trainers.yaml
//   ./build/apps/troupe-node watch runs/fmnist-local/metrics          (live view; --once prints once)
//   ./build/apps/troupe-node report runs/fmnist-local -o report.html  (HTML report with plots)
//   ./build/apps/troupe-node timeline runs/fmnist-local -o trace.json (Perfetto timeline of every actor)
//   ./build/apps/troupe-node keygen --name t0 --dir keys              (CURVE key pair, docs/security.md)
//
// Exit status 0 when the job finished (or was stopped by SIGINT/SIGTERM after saving), 1 on an
// error (the message says what and where), 2 on bad command-line usage.
//
// One file per subcommand (apps/commands.hpp); this one only dispatches and owns the stop signal.

#include <atomic>
#include <csignal>
#include <string>

#include "apps/commands.hpp"

namespace troupe::apps {

namespace {

std::atomic<bool> stop_flag{false};

extern "C" void on_signal(int) {
  stop_flag.store(true);
}

} // namespace

std::atomic<bool>& stop_requested() {
  return stop_flag;
}

void catch_stop_signals() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

} // namespace troupe::apps

int main(int argc, char** argv) {
  using namespace troupe::apps;
  // Subcommands that read metrics logs or write keys; everything else runs nodes.
  const std::string sub = argc > 1 ? argv[1] : "";
  if (sub == "watch")
    return watch_command(argc - 1, argv + 1);
  if (sub == "report")
    return report_command(argc - 1, argv + 1);
  if (sub == "timeline")
    return timeline_command(argc - 1, argv + 1);
  if (sub == "keygen")
    return keygen_command(argc - 1, argv + 1);
  return run_command(argc, argv);
}
