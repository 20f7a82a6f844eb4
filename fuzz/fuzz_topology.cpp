/// libFuzzer target: config::parse_topology, the topology YAML loader, with `--set` overrides.
///
/// Input: YAML text. Leading lines "#set key.path=value" (YAML comments, so a seed stays a valid
/// file) are also passed through parse_override and applied as overrides, in order.
/// Every refusal must be a troupe::error that cites the file or the override it comes from.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/topology.hpp"

namespace {

using namespace troupe;

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_topology: %s %s\n", what, detail.c_str());
  std::abort();
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<config::override_kv> overrides;
  std::size_t pos = 0;
  try {
    while (text.compare(pos, 5, "#set ") == 0) {
      const std::size_t end = text.find('\n', pos);
      const std::size_t stop = end == std::string::npos ? text.size() : end;
      overrides.push_back(config::parse_override(text.substr(pos + 5, stop - pos - 5)));
      pos = end == std::string::npos ? text.size() : end + 1;
    }
  } catch (const error&) {
    return 0; // a malformed override argument; the CLI reports it before any file is read
  }

  try {
    const config::topology t = config::parse_topology(text, "fuzz.yaml", overrides, "/fuzz-base");
    for (const auto& node : t.cluster.nodes)
      if (config::find_node(t, node.name).name != node.name)
        fail("a listed node cannot be found by name:", node.name);
  } catch (const error& e) {
    const std::string what = e.what();
    if (!starts_with(what, "fuzz.yaml") && !starts_with(what, "--set "))
      fail("an error cites neither the file nor an override:", what);
  }
  return 0;
}
