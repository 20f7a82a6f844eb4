#pragma once
/// `troupe-node report`: one self-contained HTML file for a run — loss and test accuracy vs step
/// and vs wall time, images/s per trainer, clock lag, staleness histogram, restarts marked on the
/// time axes; then the per-trainer table, the actors, the events a person reads (never the bulk
/// `spans` records) and the run's configuration (report_sections.hpp). Inline SVG only: no
/// scripts, no network.

#include <string>

#include "observe/records.hpp"

namespace troupe::observe {

/// The report as an HTML document; `source` is the directory named in its header.
std::string render_report(const read_result& run, const std::string& source);

/// Reads the records of a run dir (with metrics/) or a metrics dir and writes the report to
/// out_html (atomically). Throws troupe::error when the directory cannot be read or holds no records.
void write_report(const std::string& run_dir_or_metrics_dir, const std::string& out_html);

} // namespace troupe::observe
