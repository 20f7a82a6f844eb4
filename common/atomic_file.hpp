#pragma once
/// Crash-safe file replacement: a reader sees either the old file or the complete new one.

#include <string>
#include <string_view>
#include <utility>

#include "common/error.hpp"

namespace troupe {

/// A file that could not be written (ENOSPC, EACCES, EROFS, EIO, a failed rename, ...). The
/// message names the path, the failing step and strerror(errno); code() is that errno.
class file_write_error : public error {
public:
  file_write_error(std::string path, int code, const std::string& message)
      : error(message), path_(std::move(path)), code_(code) {}
  /// The file that was to be written.
  const std::string& path() const { return path_; }
  /// The errno of the failing call.
  int code() const { return code_; }

private:
  std::string path_;
  int code_;
};

/// Writes bytes to `path` via a temporary file in the same directory ("<path>.tmp.<pid>.<n>"):
/// write, fsync, close, rename over `path`, fsync the directory.
///
/// On any failure before the rename it throws file_write_error ("<path>: not written: <step>:
/// <strerror>; the previous file is unchanged"), and the previous `path` is untouched and the
/// temporary removed. Only if the directory's fsync fails after the rename (EIO) does it throw with
/// the new file already in place; that message says so. Safe to call from several threads, also
/// for the same path (the last rename wins).
void write_file_atomic(const std::string& path, std::string_view bytes);

/// Reads a whole file; throws troupe::error naming the path if it cannot.
std::string read_file(const std::string& path);

} // namespace troupe
