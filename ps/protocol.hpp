#pragma once
/// The training protocol as typed messages: who sends what, each message a plain struct with its
/// encoder and its strict decoder over net::message. The recipient travels in the header
/// (net::header::to), so routing never parses meta; the small scalar fields travel as a JSON
/// object in meta; tensors travel as raw f32/i32 frames, never copied on the way.
///
///   trainer    -> aggregator  hello {rank, job}                      (repeated until welcomed)
///   loader     -> aggregator  hello {role: loader, job}              (at start, and when asked)
///   aggregator -> trainer/loader hello {}                            (a (re)started aggregator: "say hello now")
///   aggregator -> trainer/loader reject {reason}                     (another job: the first differing key)
///   aggregator -> trainer     waiting {for}                          (ack: a hello before the job can start;
///                                                                     the trainer keeps waiting while it hears these)
///   aggregator -> trainer     welcome {rank, trainers, steps_per_epoch, epochs, mode, staleness, clock}
///                             + params [P] f32
///   trainer    -> loader      batch_request {rank, credits, from_clock} (credit-based flow control)
///   loader     -> trainer     batch {epoch, step, n} + images [n, C, H, W] f32 + labels [n] i32
///   trainer    -> aggregator  push {rank, loss_sum, n, correct1, correct5} + grad [P] f32 (none when n = 0)
///   aggregator -> trainers    params + [P] f32                       (one message for all released trainers of a node)
///   (job.compression: the gradient as grad.fp16 / grad.bf16 [P] u16 or grad.index [k] i32 + grad.values [k] f32;
///    with fp16 / bf16 the parameters of welcome and params as params.fp16 / params.bf16 [P] u16)
///   (sharded aggregators, ps/shard_plan.hpp: welcome, params and push carry {shard: s} for s > 0
///    and only that shard's range of the vector; a push goes to "aggregator-s")
///   shard s    -> aggregator  params {shard, point, final} + [range] f32  (its range at an evaluation
///                             point or at the end, so shard 0 can evaluate and write whole models)
///   shard s    -> shard t     hello {shard, rewind_to, generation}      (s restarted: every shard goes back to
///                             checkpoint step rewind_to and welcomes the trainers again, in that generation)
///   shard s    -> shard t     hello {shard, parts, answer, running}   (the checkpoint steps s holds a part of, from
///                             its own directory, and whether s runs the job; answer: false asks t for its own:
///                             ps/part_census.hpp)
///   loader     -> aggregator  balance_cuts {cuts}                  (job.balance / elastic: each cut as it is decided)
///   aggregator -> loader      balance_cuts {cuts}                    (the cuts a checkpoint recorded: hold them)
///   loader     -> aggregator  balance_cuts {cuts, held: true}        (done: the loader is ready)
///   anyone     -> anyone      shutdown {reason, rank?}
///   node       -> aggregator  heartbeat {}                           (the node runtime's, not an actor's)
///
/// Header fields have one meaning each: `clock` is the clock the message is about (the batch's
/// clock, the pushed gradient's clock, or — for welcome and params — the slowest trainer's
/// clock) and `step` is a parameter version (the version sent, or the version a push read).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "net/message.hpp"
#include "ps/compression.hpp"
#include "ps/consistency_gate.hpp"
#include "ps/loader_core.hpp"

namespace troupe::ps {

/// The actor names every node agrees on.
inline const std::string aggregator_name = "aggregator";
inline const std::string loader_name = "loader";
std::string trainer_name(std::size_t rank);

/// A flat f32 vector: shared (zero-copy) when sending; a view into the received message (valid
/// while that message lives) after decoding, or — when it travelled compressed — the decoded
/// floats, owned by `shared`.
struct flat_f32 {
  std::shared_ptr<const std::vector<float>> shared;
  const float* data = nullptr;
  std::size_t size = 0;
  /// When sending: the vector in compressed form (job.compression), which travels instead of
  /// `shared`. Tensors: "<name>.fp16" / "<name>.bf16" [P] u16, or "<name>.index" [k] i32 (strictly
  /// increasing positions) + "<name>.values" [k] f32.
  std::shared_ptr<const packed_f32> packed;
};

struct hello {
  std::size_t rank = 0;
  std::string job;     ///< the sender's job fingerprint (config::job_fingerprint wire form); empty from the aggregator
  bool loader = false; ///< the loader's hello (no rank)
  /// A trainer's clock when it said hello; the welcome that answers echoes it (welcome::answers_clock).
  std::optional<std::uint64_t> at_clock = std::nullopt;
};

/// The aggregator refuses a node's actor for good (it runs another job); the reason names the
/// first differing key on both sides.
struct reject {
  std::string reason;
};

/// The aggregator is alive but cannot start yet (an answer to a hello): who it waits for.
struct waiting {
  std::string for_what;
};

struct welcome {
  std::size_t shard = 0;        ///< the aggregator shard it comes from; params is that shard's range
  std::uint64_t generation = 0; ///< sharded: the rewind it belongs to (0: none yet); see rewind
  std::size_t rank = 0, trainers = 0;
  std::uint64_t steps_per_epoch = 0, epochs = 0;
  consistency_gate gate;
  std::uint64_t clock = 0;     ///< the clock the trainer continues from
  std::uint64_t min_clock = 0; ///< the slowest trainer's clock
  std::uint64_t version = 0;   ///< of params
  flat_f32 params;
  /// The answer to a hello the trainer said at this clock (absent: not an answer — the start, a
  /// rewind, a readmission, a backup re-sync). Pushes and hellos travel in order, so an answer that
  /// puts the trainer back behind the clock it said hello at was overtaken by its pushes: stale.
  std::optional<std::uint64_t> answers_clock = std::nullopt;
};

struct params_update {
  std::uint64_t min_clock = 0, version = 0;
  flat_f32 params;
  std::size_t shard = 0; ///< the aggregator shard it comes from; params is that shard's range
};

/// A shard's range sent to shard 0: at evaluation point `point` (the slowest clock the
/// evaluation is about), or its final parameters (`final`) when it has applied the whole job.
struct shard_report {
  std::size_t shard = 0;
  std::uint64_t point = 0, version = 0;
  bool final = false;
  flat_f32 params;
};

/// Sharded: a restarted shard went back to checkpoint step `step` (0: the initial parameters);
/// every shard goes back there too and welcomes the trainers again in `generation`, which only
/// grows (a trainer reads parameters only from shards that welcomed it in the newest generation).
struct rewind {
  std::size_t shard = 0; ///< the shard that restarted
  std::uint64_t step = 0, generation = 0;
};

/// Sharded: the checkpoint steps a shard holds a part of, in its own directory (no shared
/// filesystem needed). A (re)starting shard sends its own with answer = false; every shard
/// answers with its own (answer = true), and the starting one resumes from the newest common step.
struct parts {
  std::size_t shard = 0;
  std::vector<std::uint64_t> steps;
  bool answer = false;  ///< false: a question (answer with your own)
  bool running = false; ///< the sender runs the job (it has started, and not from this census)
};

/// At most this many steps in a parts message, the newest ones (a header holds at most 64 KiB;
/// checkpoint.keep is far smaller): the encoder sends the newest, the decoder refuses more.
inline constexpr std::size_t max_parts_steps = 1000;

struct push {
  std::size_t shard = 0; ///< the aggregator shard it goes to; grad is that shard's range
  std::size_t rank = 0;
  std::uint64_t clock = 0, version_read = 0;
  double loss_sum = 0;
  std::size_t n = 0, correct1 = 0, correct5 = 0;
  flat_f32 grad; ///< empty when n = 0
};

struct batch_request {
  std::size_t rank = 0, credits = 0;
  std::uint64_t from_clock = 0;
  /// The trainer's latest batch: samples computed in compute_s seconds (0: none yet). The loader
  /// cuts balanced batches by these (job.balance: speed).
  std::size_t samples = 0;
  double compute_s = 0;
};

struct batch {
  std::uint64_t clock = 0;
  std::size_t epoch = 0, step = 0, n = 0;
  std::vector<std::uint32_t> image_shape;               ///< C, H, W
  std::shared_ptr<const std::vector<float>> images_out; ///< when sending: n·C·H·W values
  std::shared_ptr<const std::vector<std::int32_t>> labels_out;
  net::tensor_view<float> images;        ///< after decoding
  net::tensor_view<std::int32_t> labels; ///< after decoding
};

/// Cuts of the global batch (ps/loader_core.hpp) between the loader, which decides them, and the
/// aggregator, which keeps the ones still in use in its checkpoints and gives them back to a
/// (re)started loader; `held`: the loader's answer that it now holds them.
/// Backup trainers with balance by speed: the rounds of clocks [from_clock, to_clock) closed
/// without trainer `rank` (aggregator → loader, inside a balance_cuts message); the loader hands
/// that trainer's shares of them to the others (loader_core::owe).
struct late_share {
  std::size_t rank = 0;
  std::uint64_t from_clock = 0, to_clock = 0;
};

struct balance_cuts {
  std::vector<balance_cut> cuts;
  bool held = false;
  std::optional<late_share> late = std::nullopt; ///< aggregator → loader: a late trainer's rounds (no cuts then)
};

struct shutdown {
  std::string reason;
  std::optional<std::size_t> rank; ///< the trainer that was stopped, when one says so
};

net::message encode(const hello& m, const std::string& to);
net::message encode(const welcome& m, const std::string& to);
/// One params message for several local trainers of one node: they share the buffer.
net::message encode(const params_update& m, std::vector<std::string> to);
net::message encode(const push& m);
net::message encode(const batch_request& m);
net::message encode(const batch& m, const std::string& to);
net::message encode(const shutdown& m, const std::string& to);
net::message encode(const reject& m, const std::string& to);
net::message encode(const waiting& m, const std::string& to);
net::message encode(const balance_cuts& m, const std::string& to);
net::message encode(const shard_report& r);
net::message encode(const rewind& r, const std::string& to);
/// A node's heartbeat, to the aggregator shards in `to` (the node's runtime sends one to every
/// shard on another node: shard 0 watches every node, the other shards watch shard 0's node).
net::message heartbeat_message(std::vector<std::string> to = {aggregator_name});

/// The aggregator shard a welcome, params or push is about ({shard} in meta; 0 when absent);
/// throws troupe::error unless it is below `shards`. Decode with that shard's range size.
std::size_t shard_of(const net::message& m, std::size_t shards);

/// How parameters travel under a job's compression: fp16 / bf16 as such, f32 otherwise (top-k
/// sparsifies gradients only).
config::compression params_encoding(config::compression job);

/// Strict decoders: each throws troupe::error naming the message type, the sender and the field
/// that is missing or wrong. `params_size` is the model's parameter count; `compression` is the
/// job's (job.compression), and a vector that travelled in another encoding is refused. A
/// compressed vector is decoded into a new buffer (flat_f32::shared): top-k into a dense vector
/// with zeros where nothing was sent, after checking that every position is in range and the
/// positions strictly increase.
hello decode_hello(const net::message& m);
welcome decode_welcome(const net::message& m, std::size_t params_size,
                       config::compression compression = config::compression::none);
params_update decode_params(const net::message& m, std::size_t params_size,
                            config::compression compression = config::compression::none);
push decode_push(const net::message& m, std::size_t params_size,
                 config::compression compression = config::compression::none);
shard_report decode_shard_report(const net::message& m, std::size_t range_size);
/// Whether a hello is a shard's rewind (decode it with decode_rewind, not decode_hello).
bool is_rewind(const net::message& m);
rewind decode_rewind(const net::message& m);
net::message encode(const parts& p, const std::string& to);
/// Whether a hello is a shard's parts (decode it with decode_parts).
bool is_parts(const net::message& m);
parts decode_parts(const net::message& m);
batch_request decode_batch_request(const net::message& m);
batch decode_batch(const net::message& m);
shutdown decode_shutdown(const net::message& m);
reject decode_reject(const net::message& m);
waiting decode_waiting(const net::message& m);
/// Shapes only (shares and weights of one length per cut, weights finite and >= 0): whether they
/// fit the job is loader_core::hold's to check.
balance_cuts decode_balance_cuts(const net::message& m);
/// Cuts from their JSON form ([{from_clock, shares, weights}], as in balance_cuts, checkpoints and
/// `balance` records); throws troupe::error starting with `where` and naming the cut.
std::vector<balance_cut> balance_cuts_from_json(const nlohmann::json& cuts, const std::string& where);

} // namespace troupe::ps
