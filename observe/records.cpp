#include "observe/records.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::observe {

namespace fs = std::filesystem;

double record::number(const char* key) const {
  const auto it = fields.find(key);
  if (it == fields.end() || !it->is_number())
    return std::numeric_limits<double>::quiet_NaN();
  return it->get<double>();
}

std::string record::text(const char* key) const {
  const auto it = fields.find(key);
  return it != fields.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::string record_error::to_string() const {
  return fmt::format("{}:{}: {}: {}", file, line, field, message);
}

void parse_records(std::istream& in, const std::string& file, read_result& out) {
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    // getline sets eof when the last line has no '\n': the writer may be in the middle of it.
    const bool terminated = !in.eof();
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      if (!terminated) {
        ++out.partial_lines;
        continue;
      }
      out.errors.push_back({file, number, "(line)", fmt::format("not a JSON object: {}", e.what())});
      continue;
    }
    const auto common = validate_common(j);
    for (const auto& e : validate_record(j))
      out.errors.push_back({file, number, e.field, e.message});
    if (!common.empty())
      continue;
    record r;
    r.file = file;
    r.line = number;
    r.ts = j["ts"].get<double>();
    r.node = j["node"].get<std::string>();
    r.actor = j["actor"].get<std::string>();
    r.role = j["role"].get<std::string>();
    r.step = j["step"].get<std::uint64_t>();
    r.fields = std::move(j);
    out.records.push_back(std::move(r));
  }
}

read_result read_records(const std::string& dir) {
  if (!fs::is_directory(dir))
    throw error(fmt::format("{}: not a metrics directory (expected the <node>.jsonl files of a run)", dir));
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".jsonl")
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  read_result out;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw error(fmt::format("{}: cannot open for reading", path.string()));
    parse_records(in, path.filename().string(), out);
    ++out.files;
  }
  return out;
}

std::string metrics_dir_of(const std::string& run_or_metrics_dir) {
  const auto sub = fs::path(run_or_metrics_dir) / "metrics";
  return fs::is_directory(sub) ? sub.string() : run_or_metrics_dir;
}

} // namespace troupe::observe
