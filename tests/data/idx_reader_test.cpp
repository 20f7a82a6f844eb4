#include "data/idx_reader.hpp"

#include <catch2/catch.hpp>

#include "idx_files.hpp"

using Catch::Contains;
using namespace troupe::data;
using namespace troupe::data::testing;

TEST_CASE("read_idx parses raw and gzip files", "[data][idx]") {
  temp_dir dir;
  const auto payload = pattern(2 * 3 * 4);
  const auto bytes = idx_bytes(idx_type_ubyte, {2, 3, 4}, payload);
  std::string path;
  SECTION("raw") {
    path = dir.file("a-idx3-ubyte");
    write_raw(path, bytes);
  }
  SECTION("gzip, recognised by the .gz suffix") {
    path = dir.file("a-idx3-ubyte.gz");
    write_gz(path, bytes);
  }
  SECTION("gzip, recognised by its magic without the suffix") {
    path = dir.file("a-idx3-ubyte.compressed");
    write_gz(path, bytes);
  }
  const idx_array a = read_idx(path);
  CHECK(a.type_code == idx_type_ubyte);
  CHECK(a.dims == std::vector<std::uint32_t>{2, 3, 4});
  CHECK(a.elements() == 24);
  CHECK(a.bytes == payload);
}

TEST_CASE("read_idx accepts every rank from 1 to 4", "[data][idx]") {
  temp_dir dir;
  const auto dims = GENERATE(std::vector<std::uint32_t>{7}, std::vector<std::uint32_t>{3, 5},
                             std::vector<std::uint32_t>{2, 1, 3}, std::vector<std::uint32_t>{2, 2, 2, 3});
  std::size_t count = 1;
  for (const auto d : dims)
    count *= d;
  const std::string path = dir.file("r.gz");
  write_gz(path, idx_bytes(idx_type_ubyte, dims, pattern(count)));
  const idx_array a = read_idx(path);
  CHECK(a.dims == dims);
  CHECK(a.bytes == pattern(count));
}

TEST_CASE("read_idx reads payloads larger than one chunk", "[data][idx]") {
  temp_dir dir;
  const std::vector<std::uint32_t> dims{5, 700, 1000}; // 3.5 MB: several read and inflate chunks
  const auto payload = pattern(5 * 700 * 1000);
  const auto bytes = idx_bytes(idx_type_ubyte, dims, payload);
  const bool gz = GENERATE(false, true);
  const std::string path = dir.file(gz ? "big.gz" : "big");
  gz ? write_gz(path, bytes) : write_raw(path, bytes);
  const idx_array a = read_idx(path);
  CHECK(a.dims == dims);
  CHECK(a.bytes == payload);
}

TEST_CASE("read_idx reads concatenated gzip members as one stream", "[data][idx]") {
  temp_dir dir;
  const auto bytes = idx_bytes(idx_type_ubyte, {4, 10}, pattern(40));
  const std::vector<std::uint8_t> head(bytes.begin(), bytes.begin() + 20);
  const std::vector<std::uint8_t> tail(bytes.begin() + 20, bytes.end());
  write_gz(dir.file("head.gz"), head);
  write_gz(dir.file("tail.gz"), tail);
  auto joined = slurp(dir.file("head.gz"));
  const auto second = slurp(dir.file("tail.gz"));
  joined.insert(joined.end(), second.begin(), second.end());
  const std::string path = dir.file("joined.gz");
  write_raw(path, joined);
  CHECK(read_idx(path).bytes == pattern(40));
}

TEST_CASE("read_idx rejects a missing file", "[data][idx]") {
  temp_dir dir;
  const std::string path = dir.file("no-such-file.gz");
  REQUIRE_DATA_ERROR(read_idx(path),
                     Contains(path) && Contains("cannot open file") && Contains("No such file or directory"));
}

TEST_CASE("read_idx rejects a directory", "[data][idx]") {
  temp_dir dir;
  const std::string path = dir.file("");
  REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("is a directory"));
}

TEST_CASE("read_idx rejects an empty file", "[data][idx]") {
  temp_dir dir;
  const std::string path = dir.file("empty");
  write_raw(path, {});
  REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("empty file"));
}

TEST_CASE("read_idx rejects a wrong magic number", "[data][idx]") {
  temp_dir dir;
  auto bytes = idx_bytes(idx_type_ubyte, {4}, pattern(4));
  bytes[1] = 0x01;
  const std::string path = dir.file("magic");
  write_raw(path, bytes);
  REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("bad IDX magic") && Contains("got 00 01"));
}

TEST_CASE("read_idx rejects element types other than unsigned byte", "[data][idx]") {
  temp_dir dir;
  const std::string path = dir.file("type");
  SECTION("valid IDX types it does not support") {
    const std::uint8_t type = GENERATE(0x09, 0x0B, 0x0C, 0x0D, 0x0E);
    write_raw(path, idx_bytes(type, {4}, pattern(4)));
    REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("unsupported element type"));
  }
  SECTION("bytes that are no IDX type") {
    const std::uint8_t type = GENERATE(0x00, 0x0A, 0x0F, 0xFF);
    write_raw(path, idx_bytes(type, {4}, pattern(4)));
    REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("invalid IDX element type"));
  }
}

TEST_CASE("read_idx rejects rank 0 and ranks above 4", "[data][idx]") {
  temp_dir dir;
  const std::string path = dir.file("rank");
  SECTION("rank 0") {
    write_raw(path, idx_bytes(idx_type_ubyte, {}, pattern(4)));
    REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("invalid IDX rank 0"));
  }
  SECTION("rank 5") {
    write_raw(path, idx_bytes(idx_type_ubyte, {1, 1, 1, 1, 1}, pattern(1)));
    REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("invalid IDX rank 5"));
  }
}

TEST_CASE("read_idx rejects a zero dimension", "[data][idx]") {
  temp_dir dir;
  const std::string path = dir.file("zero");
  write_raw(path, idx_bytes(idx_type_ubyte, {3, 0, 2}, {}));
  REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("dimension 1 is zero"));
}

TEST_CASE("read_idx rejects sizes that overflow or exceed the cap", "[data][idx]") {
  temp_dir dir;
  const std::string path = dir.file("huge");
  const auto dims = GENERATE(std::vector<std::uint32_t>{65536, 65536},
                             std::vector<std::uint32_t>{0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF},
                             std::vector<std::uint32_t>{(1u << 31) + 1});
  write_raw(path, idx_bytes(idx_type_ubyte, dims, pattern(16)));
  REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("IDX data too large"));
}

TEST_CASE("read_idx does not allocate what a lying header claims", "[data][idx]") {
  // The header asks for exactly the 2 GiB cap but the file holds 1000 bytes: the reader must
  // report the truncation rather than allocate 2 GiB first.
  temp_dir dir;
  const auto bytes = idx_bytes(idx_type_ubyte, {1u << 31}, pattern(1000));
  const bool gz = GENERATE(false, true);
  const std::string path = dir.file(gz ? "liar.gz" : "liar");
  gz ? write_gz(path, bytes) : write_raw(path, bytes);
  REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("truncated IDX data") &&
                                         Contains("expected 2147483648 bytes") && Contains("got 1000"));
}

TEST_CASE("read_idx rejects a truncated header", "[data][idx]") {
  temp_dir dir;
  auto bytes = idx_bytes(idx_type_ubyte, {60000, 28, 28}, {});
  const std::string path = dir.file("header");
  SECTION("inside the magic number") {
    bytes.resize(3);
    write_raw(path, bytes);
    REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("truncated IDX header"));
  }
  SECTION("inside the dimensions") {
    bytes.resize(10);
    write_raw(path, bytes);
    REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("truncated IDX header") &&
                                           Contains("expected 12 bytes of dimensions, got 6"));
  }
}

TEST_CASE("read_idx rejects truncated data", "[data][idx]") {
  temp_dir dir;
  const auto bytes = idx_bytes(idx_type_ubyte, {2, 3, 4}, pattern(10));
  const bool gz = GENERATE(false, true);
  const std::string path = dir.file(gz ? "short.gz" : "short");
  gz ? write_gz(path, bytes) : write_raw(path, bytes);
  REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("truncated IDX data") &&
                                         Contains("expected 24 bytes") && Contains("got 10"));
}

TEST_CASE("read_idx rejects trailing bytes after the data", "[data][idx]") {
  temp_dir dir;
  const auto bytes = idx_bytes(idx_type_ubyte, {2, 3}, pattern(9));
  const bool gz = GENERATE(false, true);
  const std::string path = dir.file(gz ? "long.gz" : "long");
  gz ? write_gz(path, bytes) : write_raw(path, bytes);
  REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("trailing bytes") && Contains("3 extra bytes"));
}

TEST_CASE("read_idx rejects a truncated gzip stream", "[data][idx]") {
  temp_dir dir;
  write_gz(dir.file("whole.gz"), idx_bytes(idx_type_ubyte, {100, 100}, pattern(10000)));
  auto bytes = slurp(dir.file("whole.gz"));
  const std::string path = dir.file("cut.gz");
  SECTION("cut in the middle of the compressed data") {
    bytes.resize(bytes.size() / 2);
  }
  SECTION("cut inside the gzip trailer") {
    bytes.resize(bytes.size() - 3);
  }
  write_raw(path, bytes);
  REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("truncated gzip stream"));
}

TEST_CASE("read_idx rejects a corrupt gzip stream", "[data][idx]") {
  temp_dir dir;
  write_gz(dir.file("whole.gz"), idx_bytes(idx_type_ubyte, {100, 100}, pattern(10000)));
  auto bytes = slurp(dir.file("whole.gz"));
  const std::string path = dir.file("bad.gz");
  SECTION("unknown compression method in the header") {
    bytes[2] = 7;
    write_raw(path, bytes);
    REQUIRE_DATA_ERROR(read_idx(path),
                       Contains(path) && Contains("corrupt gzip stream") && Contains("unknown compression method"));
  }
  SECTION("invalid deflate block type") {
    bytes[10] |= 0x06; // gzopen writes a 10-byte header; bits 1-2 of the next byte are BTYPE
    write_raw(path, bytes);
    REQUIRE_DATA_ERROR(read_idx(path),
                       Contains(path) && Contains("corrupt gzip stream") && Contains("invalid block type"));
  }
  SECTION("CRC mismatch in the trailer") {
    bytes[bytes.size() - 8] ^= 0xFF;
    write_raw(path, bytes);
    REQUIRE_DATA_ERROR(read_idx(path),
                       Contains(path) && Contains("corrupt gzip stream") && Contains("incorrect data check"));
  }
  SECTION("garbage after the gzip stream") {
    bytes.insert(bytes.end(), {'j', 'u', 'n', 'k'});
    write_raw(path, bytes);
    REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("corrupt gzip stream") &&
                                           Contains("after the end of the gzip stream"));
  }
  SECTION("a .gz name on a file without the gzip magic") {
    write_raw(path, idx_bytes(idx_type_ubyte, {4}, pattern(4)));
    REQUIRE_DATA_ERROR(read_idx(path), Contains(path) && Contains("not a gzip file"));
  }
}
