/// libFuzzer target: data::read_idx on raw and gzip-compressed IDX files.
///
/// read_idx takes a path, so each input is written to a file in a private temporary directory.
/// Byte 0 is a mode, the rest the content:
///   bit 0 set: the harness gzips the content first (the fuzzer then mutates plain IDX bytes and
///              still reaches the gzip path's IDX checks, past the gzip CRC it cannot forge)
///   bit 1 set: the file is named *.gz, so content that is not gzip at all is read as gzip
/// Otherwise the content is the file as is (raw IDX, or gzip if it starts with 1f 8b).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include "common/error.hpp"
#include "data/idx_reader.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_idx: %s %s\n", what, detail.c_str());
  std::abort();
}

/// A directory of our own under $TMPDIR, else /dev/shm (memory, faster), else /tmp; removed at exit.
class work_dir {
public:
  work_dir() {
    const char* tmp = std::getenv("TMPDIR");
    const std::string base = tmp != nullptr && *tmp != '\0' ? tmp : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = base + "/troupe-fuzz-idx-XXXXXX";
    if (mkdtemp(path_.data()) == nullptr)
      fail("cannot create a temporary directory from", path_);
  }
  ~work_dir() {
    for (const char* name : {"/input.idx", "/input.idx.gz"})
      std::remove((path_ + name).c_str());
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

std::string gzip(const std::uint8_t* data, std::size_t size) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fail("deflateInit2 failed");
  std::string out(deflateBound(&z, static_cast<uLong>(size)) + 32, '\0');
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END)
    fail("deflate did not finish");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr)
    fail("cannot write", path);
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok)
    fail("cannot write", path);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  const std::uint8_t mode = data[0];
  const std::uint8_t* content = data + 1;
  const std::size_t n = size - 1;
  const std::string bytes = (mode & 1U) != 0 ? gzip(content, n) : std::string(content, content + n);
  static const work_dir dir;
  const std::string path = dir.path() + ((mode & 2U) != 0 ? "/input.idx.gz" : "/input.idx");
  write_file(path, bytes);

  try {
    const troupe::data::idx_array a = troupe::data::read_idx(path);
    if (a.dims.empty() || a.dims.size() > 4)
      fail("accepted an IDX rank outside 1..4");
    if (a.bytes.size() != a.elements())
      fail("accepted IDX data whose size differs from its dimensions");
  } catch (const troupe::error& e) {
    if (std::strncmp(e.what(), path.c_str(), path.size()) != 0)
      fail("an error does not start with the path:", e.what());
  }
  return 0;
}
