#include "data/byte_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>

#include <sys/stat.h>
#include <zlib.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::data {

namespace {

constexpr std::size_t input_chunk = std::size_t{256} << 10;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

/// A zlib inflate stream that accepts gzip members only (windowBits 16 + MAX_WBITS).
struct byte_reader::inflater {
  z_stream zs{};
  bool member_done = false; ///< The last inflate() call finished a gzip member.
  bool next_member = false; ///< Inflating data found after a finished member.
  std::size_t produced = 0; ///< Inflated bytes so far, for error messages.

  explicit inflater(const std::string& path) {
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
      throw error(fmt::format("{}: cannot initialise the gzip decoder: {}", path,
                              zs.msg != nullptr ? zs.msg : "out of memory"));
  }
  ~inflater() { inflateEnd(&zs); }
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;
};

byte_reader::byte_reader(std::string path) : path_(std::move(path)), in_(input_chunk) {
  file_.reset(std::fopen(path_.c_str(), "rb"));
  if (!file_)
    throw error(fmt::format("{}: cannot open file: {}", path_, std::strerror(errno)));
  struct stat st {};
  if (fstat(fileno(file_.get()), &st) != 0)
    throw error(fmt::format("{}: cannot stat file: {}", path_, std::strerror(errno)));
  if (S_ISDIR(st.st_mode))
    throw error(fmt::format("{}: is a directory, not a file", path_));
  file_size_ = st.st_size > 0 ? static_cast<std::size_t>(st.st_size) : 0;

  // The first chunk decides the format: gzip magic 1f 8b, or a name that promises gzip.
  fill();
  const bool magic = in_end_ >= 2 && in_[0] == 0x1f && in_[1] == 0x8b;
  if (ends_with(path_, ".gz") && !magic)
    throw error(fmt::format("{}: not a gzip file: the name ends in .gz but the file {}", path_,
                            in_end_ == 0 ? "is empty" : "does not start with the gzip magic 1f 8b"));
  if (magic)
    inflater_ = std::make_unique<inflater>(path_);
}

byte_reader::~byte_reader() = default;

bool byte_reader::fill() {
  in_pos_ = 0;
  in_end_ = std::fread(in_.data(), 1, in_.size(), file_.get());
  if (in_end_ == 0 && std::ferror(file_.get()))
    throw error(fmt::format("{}: read error: {}", path_, std::strerror(errno)));
  return in_end_ > 0;
}

std::size_t byte_reader::remaining_hint() const {
  if (compressed())
    return SIZE_MAX;
  return file_size_ > file_consumed_ ? file_size_ - file_consumed_ : 0;
}

std::size_t byte_reader::read(std::uint8_t* out, std::size_t count) {
  return compressed() ? read_gzip(out, count) : read_raw(out, count);
}

std::size_t byte_reader::read_raw(std::uint8_t* out, std::size_t count) {
  std::size_t done = 0;
  while (done < count) {
    if (in_pos_ == in_end_ && !fill())
      break;
    const std::size_t n = std::min(count - done, in_end_ - in_pos_);
    std::memcpy(out + done, in_.data() + in_pos_, n);
    in_pos_ += n;
    done += n;
  }
  file_consumed_ += done;
  return done;
}

std::size_t byte_reader::read_gzip(std::uint8_t* out, std::size_t count) {
  inflater& inf = *inflater_;
  z_stream& zs = inf.zs;
  std::size_t done = 0;
  while (done < count) {
    if (inf.member_done) {
      // A finished member ends the data unless more bytes follow (concatenated gzip members).
      if (in_pos_ == in_end_ && !fill())
        break;
      inflateReset(&zs);
      inf.member_done = false;
      inf.next_member = true;
    }
    if (in_pos_ == in_end_)
      fill(); // At end of file inflate still gets a call to flush what it holds.

    const std::size_t avail_in = in_end_ - in_pos_;
    const std::size_t avail_out = std::min<std::size_t>(count - done, UINT_MAX);
    zs.next_in = in_.data() + in_pos_;
    zs.avail_in = static_cast<uInt>(avail_in);
    zs.next_out = out + done;
    zs.avail_out = static_cast<uInt>(avail_out);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const std::size_t consumed = avail_in - zs.avail_in;
    const std::size_t made = avail_out - zs.avail_out;
    in_pos_ += consumed;
    done += made;
    inf.produced += made;

    if (rc == Z_STREAM_END) {
      inf.member_done = true;
      inf.next_member = false;
    } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
      // No progress with room to write means the compressed input ran out mid-stream.
      if (consumed == 0 && made == 0)
        throw error(fmt::format("{}: truncated gzip stream: the compressed data ends before the "
                                "end of the gzip stream (after {} decompressed bytes)",
                                path_, inf.produced));
    } else if (rc == Z_MEM_ERROR) {
      throw error(fmt::format("{}: out of memory while decompressing", path_));
    } else {
      const char* why = zs.msg != nullptr ? zs.msg : "invalid data";
      if (inf.next_member)
        throw error(fmt::format("{}: corrupt gzip stream: unexpected data after the end of the "
                                "gzip stream ({})",
                                path_, why));
      throw error(fmt::format("{}: corrupt gzip stream: {} (after {} decompressed bytes)", path_, why, inf.produced));
    }
  }
  return done;
}

} // namespace troupe::data
