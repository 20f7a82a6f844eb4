/// libFuzzer target: the training protocol's decoders (ps/protocol.hpp) behind the codec.
///
/// Input: the framing of fuzz_codec.cpp (mask byte, then u16 length + bytes per frame). Whatever
/// net::decode accepts is handed to the protocol decoder of its type (the model has 16 floats);
/// a decoder may only refuse with troupe::error, and what it accepts must encode again and decode
/// to the same fields.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/error.hpp"
#include "fuzz/frames.hpp"
#include "net/codec.hpp"
#include "ps/protocol.hpp"

namespace {

using namespace troupe;

const std::uint64_t fuzz_cluster = net::cluster_id_of("fuzz");
constexpr std::size_t params = 16;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_protocol: %s\n", what);
  std::abort();
}

/// m through the wire again, as the peer would receive it.
net::message again(net::message m) {
  m.h.cluster_id = fuzz_cluster;
  m.h.sender = "fuzz";
  auto r = net::decode(net::encode(m), {}, fuzz_cluster);
  if (!r)
    fail("an encoded protocol message does not decode");
  return std::move(r).value();
}

bool same(const ps::flat_f32& a, const ps::flat_f32& b) {
  return a.size == b.size && (a.size == 0 || std::memcmp(a.data, b.data, a.size * sizeof(float)) == 0);
}

ps::flat_f32 own(const ps::flat_f32& v) {
  if (v.size == 0)
    return {};
  auto copy = std::make_shared<const std::vector<float>>(v.data, v.data + v.size);
  return {copy, copy->data(), copy->size(), nullptr};
}

/// The push decoded as each job.compression would: a refusal is a troupe::error; a compressed
/// gradient that is accepted decodes to a dense vector that travels again as f32 unchanged.
void check_compressed_push(const net::message& m) {
  for (const auto mode : {config::compression::fp16, config::compression::bf16, config::compression::topk}) {
    try {
      auto p = ps::decode_push(m, params, mode);
      if (p.n > 0 && p.grad.size != params)
        fail("a compressed gradient decodes to the wrong size");
      p.grad = own(p.grad);
      const auto p2 = ps::decode_push(again(ps::encode(p)), params);
      if (!same(p2.grad, p.grad))
        fail("a decompressed push does not round-trip");
    } catch (const troupe::error& e) {
      if (std::strlen(e.what()) == 0)
        fail("a refusal must say why");
    }
  }
}

/// Decodes m by its type; what is accepted must survive encode -> decode unchanged.
void check(const net::message& m) {
  const std::string to = m.h.to.empty() ? std::string("x") : m.h.to.front();
  switch (m.h.type) {
  case net::msg_type::hello: {
    if (ps::is_rewind(m)) {
      const auto r = ps::decode_rewind(m);
      const auto r2 = ps::decode_rewind(again(ps::encode(r, to)));
      if (r2.shard != r.shard || r2.step != r.step || r2.generation != r.generation)
        fail("rewind does not round-trip");
      break;
    }
    if (ps::is_parts(m)) {
      auto p = ps::decode_parts(m);
      if (p.steps.size() > ps::max_parts_steps)
        fail("parts accepted more steps than the bound");
      const auto p2 = ps::decode_parts(again(ps::encode(p, to)));
      std::sort(p.steps.begin(), p.steps.end()); // the encoder sends them in order
      if (p2.shard != p.shard || p2.steps != p.steps || p2.answer != p.answer || p2.running != p.running)
        fail("parts does not round-trip");
      break;
    }
    const auto h = ps::decode_hello(m);
    const auto h2 = ps::decode_hello(again(ps::encode(h, to)));
    if (h2.rank != h.rank || h2.job != h.job || h2.loader != h.loader)
      fail("hello does not round-trip");
    break;
  }
  case net::msg_type::welcome: {
    auto w = ps::decode_welcome(m, params);
    w.params = own(w.params);
    const auto m2 = again(ps::encode(w, to));
    const auto w2 = ps::decode_welcome(m2, params);
    if (w2.rank != w.rank || w2.trainers != w.trainers || w2.steps_per_epoch != w.steps_per_epoch ||
        w2.epochs != w.epochs || w2.gate.mode != w.gate.mode || w2.gate.staleness != w.gate.staleness ||
        w2.clock != w.clock || w2.min_clock != w.min_clock || w2.version != w.version || w2.shard != w.shard ||
        w2.generation != w.generation || !same(w2.params, w.params))
      fail("welcome does not round-trip");
    break;
  }
  case net::msg_type::params: {
    if (ps::shard_of(m, 64) > 0 && m.h.meta.find("\"final\"") != std::string::npos) { // a shard's range to shard 0
      auto r = ps::decode_shard_report(m, params);
      r.params = own(r.params);
      const auto r2 = ps::decode_shard_report(again(ps::encode(r)), params);
      if (r2.shard != r.shard || r2.point != r.point || r2.final != r.final || r2.version != r.version ||
          !same(r2.params, r.params))
        fail("shard report does not round-trip");
      break;
    }
    auto p = ps::decode_params(m, params);
    p.params = own(p.params);
    const auto m2 = again(ps::encode(p, m.h.to));
    const auto p2 = ps::decode_params(m2, params);
    if (p2.min_clock != p.min_clock || p2.version != p.version || p2.shard != p.shard || !same(p2.params, p.params))
      fail("params do not round-trip");
    break;
  }
  case net::msg_type::push_gradient: {
    check_compressed_push(m);
    auto p = ps::decode_push(m, params);
    p.grad = own(p.grad);
    const auto m2 = again(ps::encode(p));
    const auto p2 = ps::decode_push(m2, params);
    if (p2.shard != p.shard || p2.rank != p.rank || p2.clock != p.clock || p2.version_read != p.version_read ||
        p2.n != p.n || p2.correct1 != p.correct1 || p2.correct5 != p.correct5 || !same(p2.grad, p.grad) ||
        std::memcmp(&p2.loss_sum, &p.loss_sum, sizeof(double)) != 0)
      fail("push does not round-trip");
    break;
  }
  case net::msg_type::request_batches: {
    const auto r = ps::decode_batch_request(m);
    const auto r2 = ps::decode_batch_request(again(ps::encode(r)));
    if (r2.rank != r.rank || r2.credits != r.credits || r2.from_clock != r.from_clock)
      fail("batch request does not round-trip");
    break;
  }
  case net::msg_type::batch: {
    auto b = ps::decode_batch(m);
    if (b.n > 0) {
      b.images_out = std::make_shared<const std::vector<float>>(b.images.begin(), b.images.end());
      b.labels_out = std::make_shared<const std::vector<std::int32_t>>(b.labels.begin(), b.labels.end());
    }
    const auto m2 = again(ps::encode(b, to));
    const auto b2 = ps::decode_batch(m2);
    if (b2.clock != b.clock || b2.epoch != b.epoch || b2.step != b.step || b2.n != b.n ||
        b2.image_shape != b.image_shape || b2.images.size != b.images.size || b2.labels.size != b.labels.size)
      fail("batch does not round-trip");
    break;
  }
  case net::msg_type::shutdown: {
    const auto s = ps::decode_shutdown(m);
    const auto s2 = ps::decode_shutdown(again(ps::encode(s, to)));
    if (s2.reason != s.reason || s2.rank != s.rank)
      fail("shutdown does not round-trip");
    break;
  }
  case net::msg_type::reject: {
    const auto r = ps::decode_reject(m);
    if (ps::decode_reject(again(ps::encode(r, to))).reason != r.reason)
      fail("reject does not round-trip");
    break;
  }
  case net::msg_type::balance_cuts: {
    const auto b = ps::decode_balance_cuts(m);
    const auto b2 = ps::decode_balance_cuts(again(ps::encode(b, to)));
    if (b2.held != b.held || b2.cuts.size() != b.cuts.size())
      fail("balance_cuts does not round-trip");
    for (std::size_t k = 0; k < b.cuts.size(); ++k)
      if (b2.cuts[k].from_clock != b.cuts[k].from_clock || b2.cuts[k].shares != b.cuts[k].shares ||
          b2.cuts[k].weights != b.cuts[k].weights)
        fail("balance_cuts does not round-trip");
    break;
  }
  case net::msg_type::ack: {
    const auto w = ps::decode_waiting(m);
    if (ps::decode_waiting(again(ps::encode(w, to))).for_what != w.for_what)
      fail("waiting does not round-trip");
    break;
  }
  default:
    break;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = net::decode(troupe::fuzz::split_frames(data, size), {}, fuzz_cluster);
  if (!r)
    return 0;
  try {
    check(r.value());
  } catch (const troupe::error& e) {
    if (std::strlen(e.what()) == 0)
      fail("a refusal must say why");
  }
  return 0;
}
