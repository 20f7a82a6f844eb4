#pragma once
/// The training protocol on top of net::message: who sends what, and the builders and readers
/// for each message. Every message's meta is a small JSON object whose "to" names the actor
/// that receives it on the destination node.
///
///   trainer    -> aggregator  hello {rank}                       (repeated until welcomed)
///   aggregator -> trainer     welcome {rank, trainers, steps_per_epoch, epochs, mode, staleness}
///                             + params [P] f32 (clock = min clock, step = version)
///   trainer    -> loader      request_batches {rank, credits}    (credit-based flow control)
///   loader     -> trainer     batch {epoch, step} + images [n, C, H, W] f32 + labels [n] i32
///   trainer    -> aggregator  push_gradient {rank, version_read, loss_sum, n, correct1, correct5}
///                             + grad [P] f32 (clock = trainer clock); no frame when n = 0
///   aggregator -> trainer     params + [P] f32 (clock = min clock, step = version)
///   aggregator -> everyone    shutdown {reason}

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/message.hpp"

namespace troupe::actors {

/// The actor names every node agrees on.
inline const std::string aggregator_name = "aggregator";
inline const std::string loader_name = "loader";
std::string trainer_name(std::size_t rank);

/// A message for actor `to` with the given meta fields.
net::message make_message(net::msg_type type, const std::string& to, nlohmann::json meta = nlohmann::json::object());

/// The parsed meta object of a received message; throws troupe::error if it is not a JSON object.
nlohmann::json meta_of(const net::message& m);

/// Throws troupe::error: message m lacks a usable meta field `key`.
[[noreturn]] void throw_missing(const char* key, const net::message& m);

/// Reads a required field of a received message's meta; throws troupe::error naming the field and message type.
template <class T>
T field(const nlohmann::json& meta, const char* key, const net::message& m) {
  auto it = meta.find(key);
  if (it == meta.end())
    throw_missing(key, m);
  try {
    return it->template get<T>();
  } catch (const nlohmann::json::exception&) {
    throw_missing(key, m);
  }
}

/// Shares a parameter/gradient vector as a zero-copy f32 frame; the vector must not change afterwards.
void add_flat(net::message& m, const std::string& name, std::shared_ptr<const std::vector<float>> v);

/// The f32 frame `name` of m, checked to hold exactly `expected` floats.
net::tensor_view<float> flat_of(const net::message& m, const std::string& name, std::size_t expected);

} // namespace troupe::actors
