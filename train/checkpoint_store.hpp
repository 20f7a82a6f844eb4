#pragma once
/// A directory of checkpoints of one run: save every so often, keep the last K, resume from the
/// newest one that reads back intact.
///
/// Files are named ckpt-<global step, 12 digits>.trpc and ordered by that step. One writer per
/// directory.
///
/// The stall: save() of the reference CNN (225,034 parameters + SGD momentum buffers, a 1.80 MB
/// file) takes about 21 ms median (p90 23 ms, max 27 ms) on the 2-core development VM (ext4 on
/// virtio, load ~4): ~5 ms to encode (copies + CRC-32s, CPU) and ~16 ms to write, fsync, rename
/// and fsync the directory (I/O wait). Measured by the "[.bench]" test in checkpoint_store_test.cpp.
/// A caller that must not wait for the disk can encode_checkpoint() (or copy the state) on its own
/// thread and hand the bytes to a background writer: write_file_atomic(dir/file_name(step), bytes).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/atomic_file.hpp"
#include "train/checkpoint.hpp"

namespace troupe::train {

class checkpoint_store {
public:
  /// A store over `dir` (created by the first save) that keeps the `keep` newest checkpoints (keep >= 1).
  checkpoint_store(std::string dir, std::size_t keep);

  /// Writes ckpt-<global_step>.trpc atomically and returns its path. Then removes checkpoints of
  /// later steps (a timeline abandoned by resuming from an earlier checkpoint, because those were
  /// unreadable), the oldest beyond `keep`, and temporaries left by a writer that crashed.
  ///
  /// If the checkpoint cannot be written (ENOSPC, EACCES, EROFS, a failed rename, ...) it throws
  /// file_write_error naming the file and strerror(errno); the checkpoints already there are left
  /// as they were and no temporary stays behind, so load_latest() still finds the last good one.
  /// A failure to remove an old checkpoint afterwards throws troupe::error saying the new one was saved.
  std::string save(const training_state& s);

  struct loaded {
    training_state state;
    std::string path;
    std::vector<std::string> skipped; ///< "path: reason" for each newer checkpoint that was unreadable
  };

  /// The newest checkpoint that reads back intact, or nothing if the directory holds none.
  ///
  /// A truncated or corrupt file is reported in `skipped` and the next older one tried. A
  /// checkpoint of another format version (checkpoint_version_error), model name or parameter
  /// layout is refused with a troupe::error naming both sides: resuming from it would be wrong and
  /// starting afresh would silently drop the run. Throws too if every checkpoint is unreadable.
  /// `max_step`: only checkpoints of that global step or older (sharded aggregators resume from
  /// the newest step every shard holds).
  std::optional<loaded> load_latest(const std::string& expected_model_name, const nn::param_layout& expected_layout,
                                    std::uint64_t max_step = ~std::uint64_t{0}) const;

  /// The global steps of the checkpoints in the directory, lowest first.
  std::vector<std::uint64_t> steps() const;

  /// Paths of the checkpoints in the directory, oldest (lowest step) first.
  std::vector<std::string> list() const;

  const std::string& dir() const { return dir_; }

  /// "ckpt-000000001234.trpc" for step 1234.
  static std::string file_name(std::uint64_t global_step);

private:
  std::string dir_;
  std::size_t keep_;
};

} // namespace troupe::train
