#include "train/checkpoint_store.hpp"

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/error.hpp"

namespace troupe::train {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view prefix = "ckpt-";
constexpr std::string_view suffix = ".trpc";

/// The step in a checkpoint's file name, or nothing if `name` is not one.
std::optional<std::uint64_t> step_of(const std::string& name) {
  if (name.size() < prefix.size() + 12 + suffix.size() || name.size() > prefix.size() + 20 + suffix.size() ||
      name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  try {
    return std::stoull(digits);
  } catch (const std::out_of_range&) {
    return std::nullopt;
  }
}

/// Calls `f(entry)` for each entry of `dir`; false if `dir` does not exist. Throws troupe::error
/// naming `dir` on any other failure, also one while iterating (where std::filesystem would throw
/// its own exception type).
template <typename F>
bool for_each_entry(const std::string& dir, F f) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory)
      return false;
    throw error(fmt::format("{}: cannot list the checkpoint directory: {}", dir, ec.message()));
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec)
      break;
    f(*it);
  }
  if (ec)
    throw error(fmt::format("{}: cannot list the checkpoint directory: {}", dir, ec.message()));
  return true;
}

/// Checkpoints in `dir` as (step, path), lowest step first; empty if `dir` does not exist.
std::vector<std::pair<std::uint64_t, std::string>> scan(const std::string& dir) {
  std::vector<std::pair<std::uint64_t, std::string>> found;
  for_each_entry(dir, [&](const fs::directory_entry& entry) {
    std::error_code ec;
    const auto step = step_of(entry.path().filename().string());
    if (step && entry.is_regular_file(ec))
      found.emplace_back(*step, entry.path().string());
  });
  std::sort(found.begin(), found.end());
  return found;
}

/// Removes an old checkpoint after `saved` was written; a failure says that `saved` is there.
void remove_file(const std::string& path, const std::string& saved) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec)
    throw error(fmt::format("{}: cannot remove an old checkpoint: {} (the new checkpoint {} was saved)", path,
                            ec.message(), saved));
}

} // namespace

checkpoint_store::checkpoint_store(std::string dir, std::size_t keep) : dir_(std::move(dir)), keep_(keep) {
  TROUPE_ENFORCE(!dir_.empty(), "checkpoint_store: the directory name is empty");
  TROUPE_ENFORCE(keep_ >= 1, "checkpoint_store: keep must be at least 1, got {}", keep_);
}

std::string checkpoint_store::file_name(std::uint64_t global_step) {
  return fmt::format("{}{:012}{}", prefix, global_step, suffix);
}

std::string checkpoint_store::save(const training_state& s) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    throw error(fmt::format("{}: cannot create the checkpoint directory: {}", dir_, ec.message()));
  const std::string path = (fs::path(dir_) / file_name(s.global_step)).string();
  write_checkpoint(path, s); // On failure: a file_write_error naming path and errno; the older files stay.

  // The new checkpoint is in place; what follows only tidies the directory.
  auto files = scan(dir_);
  while (!files.empty() && files.back().first > s.global_step) {
    remove_file(files.back().second, path);
    files.pop_back();
  }
  for (std::size_t i = 0; i + keep_ < files.size(); ++i)
    remove_file(files[i].second, path);
  // Temporaries of write_file_atomic ("<name>.tmp.<pid>.<n>") survive only a writer killed
  // mid-save (a failed write removes its own). Best effort: a leftover temporary costs only space.
  std::vector<fs::path> leftovers;
  try {
    for_each_entry(dir_, [&](const fs::directory_entry& entry) {
      const std::string name = entry.path().filename().string();
      const auto tmp = name.find(".tmp.");
      if (tmp != std::string::npos && step_of(name.substr(0, tmp)))
        leftovers.push_back(entry.path());
    });
  } catch (const error&) {
  }
  for (const auto& p : leftovers)
    fs::remove(p, ec);
  return path;
}

std::optional<checkpoint_store::loaded> checkpoint_store::load_latest(const std::string& expected_model_name,
                                                                      const nn::param_layout& expected_layout,
                                                                      std::uint64_t max_step) const {
  auto files = scan(dir_);
  files.erase(std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.first > max_step; }), files.end());
  if (files.empty())
    return std::nullopt;
  loaded out;
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    const std::string& path = it->second;
    try {
      out.state = read_checkpoint(path);
    } catch (const checkpoint_version_error& ex) {
      throw checkpoint_version_error(fmt::format("refusing to resume from {}", ex.what()));
    } catch (const error& ex) {
      out.skipped.push_back(ex.what()); // read_checkpoint's messages start with the path.
      continue;
    }
    if (out.state.model_name != expected_model_name)
      throw error(fmt::format("refusing to resume from {}: it is a checkpoint of model '{}', but this run trains "
                              "model '{}'",
                              path, out.state.model_name, expected_model_name));
    try {
      expected_layout.require_same(out.state.layout, fmt::format("checkpoint of '{}'", out.state.model_name));
    } catch (const error& ex) {
      throw error(fmt::format("refusing to resume from {}: its parameters do not match this run's model '{}': {}", path,
                              expected_model_name, ex.what()));
    }
    out.path = path;
    return out;
  }
  std::string reasons;
  for (const auto& s : out.skipped)
    reasons += fmt::format("\n  {}", s);
  throw error(fmt::format("{}: none of the {} checkpoints is readable:{}", dir_, files.size(), reasons));
}

std::vector<std::uint64_t> checkpoint_store::steps() const {
  std::vector<std::uint64_t> out;
  for (const auto& entry : scan(dir_))
    out.push_back(entry.first);
  return out;
}

std::vector<std::string> checkpoint_store::list() const {
  std::vector<std::string> paths;
  for (auto& [step, path] : scan(dir_))
    paths.push_back(std::move(path));
  return paths;
}

} // namespace troupe::train
