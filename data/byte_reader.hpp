#pragma once
/// Sequential reading of a file's bytes, inflating gzip transparently and in bounded chunks.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace troupe::data {

/// Reads one file front to back; a gzip file (".gz" suffix or magic 1f 8b) yields its inflated bytes.
///
/// Every error is a troupe::error whose message starts with the path. Memory use is bounded by
/// one input chunk and the inflater's window, whatever the file claims about itself.
class byte_reader {
public:
  /// Opens `path`; throws if it is missing, a directory or unreadable.
  explicit byte_reader(std::string path);
  ~byte_reader();

  byte_reader(const byte_reader&) = delete;
  byte_reader& operator=(const byte_reader&) = delete;

  /// Copies up to `count` bytes into `out`; returns fewer only at a clean end of the data.
  ///
  /// Throws on an I/O error, a corrupt gzip stream or a gzip stream cut short.
  std::size_t read(std::uint8_t* out, std::size_t count);

  /// Whether the file is being inflated as gzip.
  bool compressed() const { return inflater_ != nullptr; }

  /// Bytes left to read when that is known (an uncompressed file), otherwise SIZE_MAX.
  std::size_t remaining_hint() const;

  /// The path the reader was opened with, for error messages.
  const std::string& path() const { return path_; }

private:
  struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  struct inflater;

  /// Refills the input buffer from the file; returns false at end of file.
  bool fill();
  std::size_t read_raw(std::uint8_t* out, std::size_t count);
  std::size_t read_gzip(std::uint8_t* out, std::size_t count);

  std::string path_;
  std::unique_ptr<std::FILE, file_closer> file_;
  std::vector<std::uint8_t> in_;
  std::size_t in_pos_ = 0;
  std::size_t in_end_ = 0;
  std::size_t file_size_ = 0;
  std::size_t file_consumed_ = 0; ///< Bytes of the file already handed out (raw mode).
  std::unique_ptr<inflater> inflater_;
};

} // namespace troupe::data
