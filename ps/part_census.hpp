#pragma once
/// Sharded aggregators: which checkpoint step a (re)starting shard resumes from, learned from the
/// shards themselves. Every shard lists only its own part directory and tells the others (the
/// `parts` hello, ps/protocol.hpp), so the shards need no shared filesystem: each may keep its
/// parts on its own host's disk. The step is the newest one every shard holds a part of.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace troupe::ps {

class part_census {
public:
  /// `shards` shards; this one is `self` and holds parts at `own_steps`.
  part_census(std::size_t shards, std::size_t self, std::vector<std::uint64_t> own_steps);

  /// Shard `shard` holds parts at `steps` (any order; a later answer replaces an earlier one) and
  /// is `running` the job already (then this shard joins a running job: every shard must go back
  /// with it, even when no step is common). Throws troupe::error for a shard the job does not have.
  void heard(std::size_t shard, std::vector<std::uint64_t> steps, bool running = false);

  /// Whether every shard has answered.
  bool complete() const { return missing().empty(); }

  /// The shards not heard from yet, lowest first.
  std::vector<std::size_t> missing() const;

  /// The newest step every shard holds (nothing: no common step, start from the initial
  /// parameters). Only meaningful once complete().
  std::optional<std::uint64_t> newest_common() const;

  /// Whether another shard said it is running the job.
  bool others_running() const { return running_; }

private:
  std::vector<std::optional<std::vector<std::uint64_t>>> steps_;
  bool running_ = false;
};

} // namespace troupe::ps
