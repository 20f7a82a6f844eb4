// The floors of the house (docs/architecture.md), kept by a test instead of by convention: every
// include points down. A lower floor that includes a higher one, or ps/ reaching for CAF or
// ZeroMQ, fails here with the file, the line and the include.

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/test_env.hpp"

namespace {

namespace fs = std::filesystem;

/// What each folder must not include (project folders as "dir/", system headers as "<prefix").
const std::map<std::string, std::vector<std::string>> forbidden = {
    {"common",
     {"tensor/", "data/", "config/", "net/", "observe/", "train/", "ps/", "runtime/", "actors/", "apps/", "bandit/"}},
    {"tensor", {"data/", "config/", "net/", "observe/", "train/", "ps/", "runtime/", "actors/", "apps/", "bandit/"}},
    {"data", {"config/", "net/", "observe/", "train/", "ps/", "runtime/", "actors/", "apps/", "bandit/"}},
    {"config", {"net/", "observe/", "train/", "ps/", "runtime/", "actors/", "apps/", "bandit/"}},
    {"net", {"config/", "observe/", "train/", "ps/", "runtime/", "actors/", "apps/", "bandit/"}},
    {"observe", {"train/", "ps/", "runtime/", "actors/", "apps/", "bandit/"}},
    {"train", {"net/", "ps/", "runtime/", "actors/", "apps/", "bandit/", "<caf/", "<zmq"}},
    // ps/: the parameter server's logic, without actors or sockets.
    {"ps",
     {"runtime/", "actors/", "apps/", "bandit/", "train/", "observe/", "net/van", "net/context", "net/curve", "<caf/",
      "<zmq"}},
    {"runtime", {"actors/", "apps/", "bandit/", "train/"}},
    {"actors", {"apps/", "bandit/"}},
    {"bandit", {"actors/", "apps/", "train/"}},
};

struct violation {
  std::string file;
  std::size_t line;
  std::string include;
};

std::vector<violation> scan(const fs::path& root) {
  static const std::regex include_line(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
  std::vector<violation> out;
  for (const auto& [folder, banned] : forbidden) {
    if (!fs::exists(root / folder))
      continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / folder)) {
      const auto ext = entry.path().extension();
      if (!entry.is_regular_file() || (ext != ".hpp" && ext != ".cpp"))
        continue;
      std::ifstream in(entry.path());
      std::string text;
      for (std::size_t n = 1; std::getline(in, text); ++n) {
        std::smatch m;
        if (!std::regex_search(text, m, include_line))
          continue;
        const std::string target = (m[1] == "<" ? "<" : "") + m[2].str();
        for (const auto& b : banned)
          if (target.rfind(b, 0) == 0)
            out.push_back({fs::relative(entry.path(), root).string(), n, target});
      }
    }
  }
  return out;
}

} // namespace

TEST_CASE("every include points down: lower floors never include higher ones, ps/ has no CAF or ZeroMQ",
          "[common][layering]") {
  const auto found = scan(troupe::test::source_dir());
  for (const auto& v : found)
    UNSCOPED_INFO(v.file << ":" << v.line << " includes " << v.include);
  CHECK(found.empty());
}

TEST_CASE("the layering check finds an upward include", "[common][layering]") {
  troupe::test::scratch_dir dir("layering");
  fs::create_directories(dir.path / "net");
  std::ofstream(dir.path / "net" / "bad.hpp") << "#pragma once\n#include \"actors/node.hpp\"\n";
  fs::create_directories(dir.path / "ps");
  std::ofstream(dir.path / "ps" / "bad.cpp") << "#include <caf/all.hpp>\n";
  const auto found = scan(dir.path);
  REQUIRE(found.size() == 2);
}
