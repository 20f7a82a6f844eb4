#pragma once
/// Process-wide settings a training binary applies once in main().

namespace troupe::train {

/// Keeps freed tensor buffers in the heap instead of returning them to the kernel, so the
/// per-step allocations of the graph reuse warm pages rather than page-faulting every step.
void tune_allocator();

} // namespace troupe::train
