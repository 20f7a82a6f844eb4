#pragma once
/// Crash-safe file replacement: a reader sees either the old file or the complete new one.

#include <string>
#include <string_view>

namespace troupe {

/// Writes bytes to `path` via a temporary file in the same directory: write, fsync, rename over
/// `path`, fsync the directory. Throws troupe::error naming the path and the failing step.
void write_file_atomic(const std::string& path, std::string_view bytes);

/// Reads a whole file; throws troupe::error naming the path if it cannot.
std::string read_file(const std::string& path);

} // namespace troupe
