#pragma once
/// The job fingerprint: what every node of one job must agree on, compared at hello.
///
/// Nodes of a multi-process job read their own copy of the topology (and model) file, with their
/// own `--set` overrides. Anything that changes what is trained or how updates combine must be the
/// same on all of them, or a node silently trains another job (a trainer with tanh where the others
/// have relu, a loader with another seed). The fingerprint is that part of the configuration as an
/// ordered list of (key path, value) entries and a 64-bit FNV-1a hash of its canonical text.
///
/// Included (each changes the trained parameters or the update rule):
///  - the model file's content, not its path: name, input shape, loss, and per layer its type
///    (relu / tanh / sigmoid are layer types) and the options that type uses (sizes, stride,
///    padding, init, bias, dropout p);
///  - job.data: max_train, max_test, normalize (which examples exist and how they look);
///  - job.batch_size, epochs, seed; the optimizer's kind, lr and the fields of that kind; the
///    schedule's kind, warm-up and the fields of that kind; consistency mode (and staleness for
///    ssp); evaluation triggers; on_nonfinite_gradient (+ max_refused_in_a_row for refuse);
///    on_trainer_loss; balance, compression and augment (each only when not off / none, so older
///    jobs keep their fingerprint);
///  - cluster.id and the placement of actors: per node its name, roles and trainer count, which
///    fix the ranks, the number of trainers and so the global batch and the data sharding.
/// Left out, on purpose (a node may differ and the job stays the same):
///  - paths: job.model (the content counts), job.data.dir (hosts mount data in different places);
///  - per-node resources and addresses: threads per trainer (the README's bitwise-determinism
///    promise is per thread count, but the job is the same), endpoints, public keys (CURVE checks
///    those), timeouts, heartbeat, supervisor, security settings;
///  - checkpoint.* and metrics.*: outputs of one node each.
/// Only the fields a kind uses are entries: with adam, a stray `momentum` does not matter, so it
/// must not refuse a node. Fields come after the kind that selects them, and counts before the
/// lists they count, so the first differing key is the cause (the kind), not a consequence.
///
/// Wire form (to_wire / from_wire), text, one entry per line:
///   "troupe-job-fingerprint 1\n" then "<key>=<value>\n" per entry, then "hash=<16 hex digits>\n".
/// Keys are [A-Za-z0-9_.[\]] only; values escape '\\' as "\\\\", bytes outside 0x20..0x7e as "\\xHH".
/// The canonical text the hash covers is the entry lines exactly as on the wire.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/model_spec.hpp"
#include "config/topology.hpp"

namespace troupe::config {

struct job_fingerprint {
  /// (key path, value) in canonical order, e.g. ("job.model.layers[1].type", "relu").
  std::vector<std::pair<std::string, std::string>> entries;
  std::uint64_t hash = 0; ///< FNV-1a 64 over the canonical text of `entries`

  /// A fingerprint of these entries (in this order), with their hash.
  static job_fingerprint from_entries(std::vector<std::pair<std::string, std::string>> entries);

  /// The wire form (see the file comment); throws troupe::error if it would break a limit below.
  std::string to_wire() const;

  /// Limits from_wire enforces before it allocates for what it reads.
  static constexpr std::size_t max_wire_bytes = 256 * 1024;
  static constexpr std::size_t max_entries = 8192;
  static constexpr std::size_t max_key_bytes = 256;
  static constexpr std::size_t max_value_bytes = 1024;

  /// Parses a wire form strictly: the header line, every entry, no repeated key, the hash line
  /// last and equal to the hash of the entries. Throws troupe::error naming the line and problem.
  static job_fingerprint from_wire(std::string_view wire);
};

/// The fingerprint of the job `t` describes, with the model `model` (load_job_model(t)).
job_fingerprint fingerprint_of(const topology& t, const model_spec& model);

/// Where two fingerprints first disagree: the key, and its value on each side (`absent` if missing).
struct fingerprint_difference {
  std::string key;
  std::string mine;
  std::string theirs;
};

/// The value shown for a key one side does not have.
inline constexpr const char* fingerprint_absent = "(absent)";

/// The first key, in `mine`'s order, whose value differs or that only one side has; nothing if
/// the fingerprints are equal. A difference in entry order alone is reported under the key "(order)".
std::optional<fingerprint_difference> first_difference(const job_fingerprint& mine, const job_fingerprint& theirs);

/// "job.model.layers[1].type: 'relu' here, 'tanh' <where_theirs>", e.g. where_theirs = "on node t0".
std::string to_string(const fingerprint_difference& d, std::string_view where_theirs);

/// Why a peer's job (its fingerprint in wire form) is not this one, or nothing when they agree:
/// the first differing key with both values (`where_theirs`, e.g. "on node 't1'", says whose the
/// other value is), or what is wrong with a fingerprint that does not parse.
std::optional<std::string> job_mismatch(const std::string& mine_wire, const std::string& theirs_wire,
                                        std::string_view where_theirs);

} // namespace troupe::config
