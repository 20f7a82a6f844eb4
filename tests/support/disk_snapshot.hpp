#pragma once
// A fingerprint of everything under a directory, to show that rejecting a bad input left the disk as it was.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace troupe::test {

/// FNV-1a (64 bit) of a file's bytes; a missing file hashes like an empty one (the listing tells them apart).
inline std::uint64_t file_hash(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::istreambuf_iterator<char> it(in), end; it != end; ++it) {
    h ^= static_cast<unsigned char>(*it);
    h *= 0x100000001b3ull;
  }
  return h;
}

/// One line per entry under `root` (recursively, sorted): "rel/path/" for a directory, "rel/path <size> <hash>" for a
/// file.
///
/// Two equal snapshots mean no file was created, removed, truncated or rewritten under `root`.
inline std::vector<std::string> disk_snapshot(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  std::vector<std::string> lines;
  if (!fs::exists(root))
    return lines;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string rel = fs::relative(entry.path(), root).string();
    if (entry.is_directory())
      lines.push_back(rel + "/");
    else
      lines.push_back(fmt::format("{} {} {:016x}", rel, fs::file_size(entry.path()), file_hash(entry.path())));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

} // namespace troupe::test
