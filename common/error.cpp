#include "common/error.hpp"

namespace troupe::detail {

void enforce_failed(const char* file, int line, const char* cond, const std::string& msg) {
  // Strip the directory: the file name and line are what a reader needs.
  std::string f = file;
  if (auto pos = f.rfind('/'); pos != std::string::npos)
    f = f.substr(pos + 1);
  throw error(fmt::format("{} ({}:{}: {})", msg, f, line, cond));
}

} // namespace troupe::detail
