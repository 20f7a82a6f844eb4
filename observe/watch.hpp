#pragma once
/// `troupe-node watch`: one row per actor across all nodes of a run — step, loss, images/s,
/// clock lag, state — rendered from the metrics logs, once or refreshed in place.

#include <atomic>
#include <ostream>
#include <string>
#include <vector>

#include "observe/records.hpp"

namespace troupe::observe {

struct watch_style {
  bool color = false;        ///< ANSI colours (the caller decides: a TTY or not)
  double stale_after_s = 10; ///< an actor with no record for longer is "stale"
};

/// The view at time `now` (seconds since the epoch): a header, one row per actor (step, loss,
/// images/s, share of time waiting, clock lag, age of its last record, state: running / finished /
/// stale / restarted, restarts), the slowest trainer marked "<", restarts marked "!", then the
/// latest evaluation and the restarts, then the per-trainer table (observe/trainers_view.hpp).
std::string render_watch(const std::vector<record>& records, double now, const watch_style& style = {});

struct watch_options {
  std::string dir;       ///< metrics dir, or a run dir holding metrics/
  double interval_s = 2; ///< refresh period of the live view
  bool once = false;     ///< render once, no screen clearing
  bool peers = false;    ///< the per-peer view (observe/peers_view.hpp) instead of the per-actor one
  watch_style style;
};

/// Renders the view of o.dir into out: once, or every o.interval_s (clearing the screen with ANSI
/// codes) until *stop becomes true. Waits for the directory to appear. Returns 0, or 1 when
/// `once` and the directory cannot be read.
int run_watch(const watch_options& o, std::ostream& out, const std::atomic<bool>* stop);

} // namespace troupe::observe
