#include "train/process_tuning.hpp"

#include <malloc.h>

namespace troupe::train {

void tune_allocator() {
  // Serve large blocks from the heap (not fresh mmaps) and never trim it back.
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024); // glibc's maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  mallopt(M_ARENA_MAX, 4);
}

} // namespace troupe::train
