#pragma once
/// `troupe-node watch --peers`: one row per link (node -> peer) from each node's latest `transport`
/// record — round trip, bytes and messages both ways, refusals — slow links marked, then the
/// queue depths the node's actors published (mailboxes, prefetched batches).

#include <string>
#include <vector>

#include "observe/records.hpp"
#include "observe/watch.hpp"

namespace troupe::observe {

/// The per-peer view at time `now` (seconds since the epoch).
std::string render_peers(const std::vector<record>& records, double now, const watch_style& style = {});

} // namespace troupe::observe
