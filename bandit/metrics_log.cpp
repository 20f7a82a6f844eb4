#include "bandit/metrics_log.hpp"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::bandit {

metrics_log::metrics_log(const std::string& dir, const std::string& node) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  path_ = (std::filesystem::path(dir) / (node + ".jsonl")).string();
  file_.open(path_, std::ios::app);
  if (!file_)
    throw error(fmt::format("{}: cannot open the metrics log for writing{}", path_, ec ? ": " + ec.message() : ""));
}

void metrics_log::write(const nlohmann::json& record) {
  std::lock_guard<std::mutex> lock(mu_);
  file_ << record.dump() << '\n';
  file_.flush();
}

nlohmann::json make_record(const std::string& node, const std::string& actor, const std::string& role,
                           std::uint64_t step) {
  const double ts = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return {{"ts", ts}, {"node", node}, {"actor", actor}, {"role", role}, {"step", step}};
}

} // namespace troupe::bandit
