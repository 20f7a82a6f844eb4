/// Writes the seed corpus of the fuzz targets: small valid inputs made with the project's own
/// encoders, and nearly valid ones (one field wrong) next to each.
///
///   fuzz_make_corpus <corpus dir> <source dir>
///
/// writes <corpus dir>/{codec,checkpoint,idx,topology,model_spec}/<seed name>, copying the YAML
/// seeds from <source dir>/examples. Deterministic: running it again rewrites the same files.
/// Each seed is checked first: a "valid-*" seed must be accepted by the real decoder and a
/// "bad-*" one refused, so the corpus cannot silently drift away from the format.

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <zlib.h>

#include "common/crc32.hpp"
#include "common/little_endian.hpp"
#include "config/model_spec.hpp"
#include "config/topology.hpp"
#include "data/idx_reader.hpp"
#include "net/codec.hpp"
#include "ps/protocol.hpp"
#include "train/checkpoint.hpp"

namespace fs = std::filesystem;
using namespace troupe;

namespace {

fs::path out_root;
int written = 0;

/// Throws unless `accepted` matches what the seed's name promises.
void expect(const std::string& target, const std::string& name, bool accepted, const std::string& why = {}) {
  const bool want = name.rfind("bad-", 0) != 0;
  if (accepted != want)
    throw error(fmt::format("seed {}/{} should be {} but was {}{}{}", target, name, want ? "accepted" : "refused",
                            accepted ? "accepted" : "refused", why.empty() ? "" : ": ", why));
}

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = out_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out)
    throw error(fmt::format("cannot write {}", (dir / name).string()));
  ++written;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in)
    throw error(fmt::format("cannot read {}", p.string()));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// --- codec: the framing of fuzz_codec.cpp (mask byte, then u16 length + bytes per frame) ---------

std::string frame_bytes(const std::vector<std::string>& frames, std::uint8_t misalign_mask = 0) {
  std::string out(1, static_cast<char>(misalign_mask));
  for (const auto& f : frames) {
    if (f.size() > 0xffff)
      throw error("a codec seed frame is over 65535 bytes");
    out += static_cast<char>(f.size() & 0xffU);
    out += static_cast<char>(f.size() >> 8U);
    out += f;
  }
  return out;
}

/// Framed seed bytes for `frames`, after checking that decode() treats them as the name says.
std::string codec_seed(const std::string& name, const std::vector<std::string>& frames, std::uint8_t mask = 0) {
  std::vector<net::payload> payloads;
  for (const auto& f : frames)
    payloads.push_back(net::payload::copy_of(f.data(), f.size()));
  const auto r = net::decode(std::move(payloads), net::limits{}, net::cluster_id_of("fuzz"));
  expect("codec", name, r.ok(), r.ok() ? "" : r.error().detail);
  return frame_bytes(frames, mask);
}

std::vector<std::string> frames_of(const net::message& m, std::size_t piece_bytes = 0) {
  std::vector<std::string> out;
  for (const auto& p : net::encode(m, {}, piece_bytes))
    out.emplace_back(p.view());
  return out;
}

void codec_seeds() {
  const std::uint64_t cluster = net::cluster_id_of("fuzz");
  auto base = [&](net::msg_type t) {
    net::message m(t);
    m.h.cluster_id = cluster;
    m.h.sender = "t0";
    m.h.seq = 7;
    m.h.clock = 3;
    m.h.step = 11;
    return m;
  };

  net::message hb = base(net::msg_type::heartbeat);
  put("codec", "valid-heartbeat", codec_seed("valid-heartbeat", frames_of(hb)));

  net::message hello = base(net::msg_type::hello);
  hello.h.meta = R"({"roles":["trainer"],"trainers":1})";
  hello.h.to = {"aggregator"};
  put("codec", "valid-hello-meta", codec_seed("valid-hello-meta", frames_of(hello)));

  net::message grad = base(net::msg_type::push_gradient);
  grad.h.to = {"trainer-0", "trainer-1"};
  grad.add_tensor<float>("0.weight", {3, 4}, std::vector<float>{1, -2, 3.5f, 0, 1e-3f, 7, 8, 9, 10, 11, 12, -0.f});
  grad.add_tensor<std::int32_t>("count", {2}, std::vector<std::int32_t>{-1, 65536});
  grad.add_tensor<std::uint8_t>("mask", {5}, std::vector<std::uint8_t>{0, 1, 2, 254, 255});
  const auto grad_frames = frames_of(grad);
  put("codec", "valid-push-gradient-3-tensors", codec_seed("valid-push-gradient-3-tensors", grad_frames));
  put("codec", "valid-push-gradient-misaligned", codec_seed("valid-push-gradient-misaligned", grad_frames, 0xfe));

  // Since version 3 a tensor may travel in pieces: 48 bytes of '0.weight' as 16 + 16 + 16.
  const auto pieces = frames_of(grad, 16);
  put("codec", "valid-push-gradient-in-pieces", codec_seed("valid-push-gradient-in-pieces", pieces));
  auto crossing = pieces; // the last piece of '0.weight' takes the first bytes of 'count'
  crossing[3] += crossing[4].substr(0, 4);
  crossing[4].erase(0, 4);
  put("codec", "bad-piece-crossing-tensors", codec_seed("bad-piece-crossing-tensors", crossing));

  net::message batch = base(net::msg_type::batch);
  batch.add_tensor<std::uint8_t>("images", {2, 1, 4, 4}, std::vector<std::uint8_t>(32, 9));
  batch.add_tensor<std::int32_t>("labels", {2}, std::vector<std::int32_t>{3, 9});
  put("codec", "valid-batch", codec_seed("valid-batch", frames_of(batch)));

  net::message scalar = base(net::msg_type::params);
  scalar.add_tensor<float>("lr", {}, std::vector<float>{0.05f});
  scalar.add_tensor<float>("empty", {0, 3}, std::vector<float>{});
  put("codec", "valid-params-scalar-and-empty", codec_seed("valid-params-scalar-and-empty", frames_of(scalar)));

  // Nearly valid: one thing wrong each.
  auto f = grad_frames;
  f.pop_back();
  put("codec", "bad-missing-frame", codec_seed("bad-missing-frame", f));
  f = grad_frames;
  f[1].pop_back();
  put("codec", "bad-short-tensor-frame", codec_seed("bad-short-tensor-frame", f));
  f = grad_frames;
  f[0].resize(f[0].size() / 2);
  put("codec", "bad-truncated-header", codec_seed("bad-truncated-header", f));
  f = grad_frames;
  f[0][4] = 1; // protocol version 1 (recipients still in meta)
  put("codec", "bad-version", codec_seed("bad-version", f));
  f = grad_frames;
  f[0][8 + 1] ^= 0x55; // first byte of the cluster id
  put("codec", "bad-cluster", codec_seed("bad-cluster", f));
  f = frames_of(hb);
  f[0][8 + 1 + 8] = 99; // message type 99
  put("codec", "bad-type", codec_seed("bad-type", f));
  f = frames_of(hb);
  f[0] += "x";
  put("codec", "bad-trailing-header-byte", codec_seed("bad-trailing-header-byte", f));
}

// --- checkpoint: mode byte (bit 0: the harness fixes the CRC), then the file ------------------

train::training_state tiny_state() {
  train::training_state s;
  s.model_name = "tiny";
  s.layout.entries.push_back({"0.weight", {2, 3}, 0, 6});
  s.layout.entries.push_back({"0.bias", {2}, 6, 2});
  s.layout.total = 8;
  s.params = {0.1f, -0.2f, 0.3f, -0.4f, 0.5f, -0.6f, 0.01f, 0.02f};
  s.optimizer.kind = "adam";
  s.optimizer.step = 3;
  s.optimizer.buffers["0.weight.exp_avg"] = std::vector<float>(6, 0.25f);
  s.optimizer.buffers["0.bias.exp_avg"] = {1.f, 2.f};
  s.global_step = 3;
  s.epoch = 1;
  s.trainer_clocks = {2, 1};
  s.data_seed = 42;
  s.loader_cursors = {{1, 4}, {1, 5}};
  s.rng_states = {{1, 2, 3, 4}};
  s.config_text = "job:\n  epochs: 2\n";
  s.info_json = R"({"reason":"periodic","loss":0.5})";
  return s;
}

void checkpoint_seeds() {
  // Mode 1 asks the harness to fix the CRC trailer; the check does the same.
  const auto with_mode = [](char mode, std::string file) {
    if ((mode & 1) != 0 && file.size() >= 4) {
      store_le(file.data() + file.size() - 4, crc32_of(file.data(), file.size() - 4));
    }
    return std::string(1, mode) + file;
  };
  const auto accepted = [](const std::string& seed) {
    try {
      train::decode_checkpoint(seed.substr(1), "seed");
      return std::string();
    } catch (const error& e) {
      return std::string(e.what());
    }
  };
  const auto put_checked = [&](const std::string& name, const std::string& seed) {
    const std::string why = accepted(seed);
    expect("checkpoint", name, why.empty(), why);
    put("checkpoint", name, seed);
  };
  const train::training_state s = tiny_state();
  const std::string file = train::encode_checkpoint(s);
  put_checked("valid-tiny", with_mode(0, file));
  put_checked("valid-tiny-fix-crc", with_mode(1, file));

  train::training_state bare;
  bare.model_name = "empty";
  bare.optimizer.kind = "sgd";
  put_checked("valid-empty-model", with_mode(1, train::encode_checkpoint(bare)));

  std::string bad = file;
  bad.resize(bad.size() - 9);
  put_checked("bad-truncated", with_mode(0, bad));
  bad = file;
  bad[8] = 2; // format version 2, CRC fixed by the harness: an intact file of another version
  put_checked("bad-version-2", with_mode(1, bad));
  bad = file;
  bad[12 + 7] = 0x7f; // top byte of the header length
  put_checked("bad-header-length", with_mode(1, bad));
  bad = file;
  bad[bad.size() - 5] ^= 1; // last byte of the config text, CRC left stale
  put_checked("bad-crc", with_mode(0, bad));

  // Parameter shapes whose element counts wrap around 64 bits (accepted before the fix).
  const auto with_parameters = [&](const std::string& json) {
    const std::string plain = train::encode_checkpoint(bare);
    const auto len = load_le<std::uint64_t>(plain.data() + 12);
    std::string header = plain.substr(20, len);
    header.replace(header.find("\"parameters\":[]"), 15, "\"parameters\":" + json);
    std::string out = plain.substr(0, 12);
    append_le<std::uint64_t>(out, header.size());
    return out + header + plain.substr(20 + len);
  };
  put_checked("bad-shape-overflow",
              with_mode(1, with_parameters(R"([{"name":"w","shape":[4294967296,4294967296],"offset":0}])")));
  put_checked(
      "bad-shape-sum-overflow",
      with_mode(1, with_parameters(R"([{"name":"a","shape":[9223372036854775808],"offset":0},)"
                                   R"({"name":"b","shape":[9223372036854775808],"offset":9223372036854775808}])")));
  put_checked("bad-negative-dim", with_mode(1, with_parameters(R"([{"name":"w","shape":[0,-1],"offset":0}])")));
}

// --- idx: mode byte (bit 0: the harness gzips, bit 1: named *.gz), then the content ------------

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string idx_file(std::uint8_t type, const std::vector<std::uint32_t>& dims, std::size_t data_bytes) {
  std::string out{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (auto d : dims)
    out += be32(d);
  for (std::size_t i = 0; i < data_bytes; ++i)
    out += static_cast<char>(i * 37 % 256);
  return out;
}

std::string gzip(const std::string& in) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    throw error("deflateInit2 failed");
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END)
    throw error("deflate did not finish");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// Stores an IDX seed after reading it as fuzz_idx would (mode bit 0: gzip it, bit 1: *.gz name).
void idx_put(const std::string& name, char mode, const std::string& content) {
  const fs::path path = out_root / ((mode & 2) != 0 ? "check.idx.gz" : "check.idx");
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    const std::string file = (mode & 1) != 0 ? gzip(content) : content;
    f.write(file.data(), static_cast<std::streamsize>(file.size()));
  }
  std::string why;
  try {
    data::read_idx(path.string());
  } catch (const error& e) {
    why = e.what();
  }
  fs::remove(path);
  expect("idx", name, why.empty(), why);
  put("idx", name, std::string(1, mode) + content);
}

void idx_seeds() {
  const std::string images = idx_file(0x08, {2, 3, 3}, 18);
  const std::string labels = idx_file(0x08, {4}, 4);
  idx_put("valid-images-raw", 0, images);
  idx_put("valid-labels-raw", 0, labels);
  idx_put("valid-images-harness-gzip", 1, images);
  idx_put("valid-images-gzip", 0, gzip(images));
  idx_put("valid-labels-gzip-named-gz", 2, gzip(labels));
  idx_put("valid-rank4-harness-gzip", 3, idx_file(0x08, {1, 2, 2, 2}, 8));

  idx_put("bad-truncated-data", 0, idx_file(0x08, {2, 3, 3}, 17));
  idx_put("bad-trailing-byte", 1, idx_file(0x08, {4}, 5));
  idx_put("bad-float-type", 0, idx_file(0x0D, {4}, 16));
  idx_put("bad-rank-5", 0, idx_file(0x08, {1, 1, 1, 1, 1}, 1));
  idx_put("bad-huge-dims", 0, idx_file(0x08, {60000, 28, 28}, 3));
  idx_put("bad-huge-dims-gzip", 1, idx_file(0x08, {0xffff, 0xffff}, 3));
  std::string cut = gzip(images);
  cut.resize(cut.size() - 6);
  idx_put("bad-gzip-cut", 0, cut);
  idx_put("bad-not-gzip-named-gz", 2, images);
}

// --- YAML: the examples, plus a few near misses ----------------------------------------------

/// Stores a topology seed after parsing it as fuzz_topology would (leading "#set " lines are overrides).
void topology_put(const std::string& name, const std::string& text) {
  std::string why;
  try {
    std::vector<config::override_kv> overrides;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line) && line.rfind("#set ", 0) == 0;)
      overrides.push_back(config::parse_override(line.substr(5)));
    config::parse_topology(text, "seed.yaml", overrides, "/fuzz-base");
  } catch (const error& e) {
    why = e.what();
  }
  expect("topology", name, why.empty(), why);
  put("topology", name, text);
}

/// Stores a model seed after parsing it and inferring its shapes as fuzz_model_spec would.
void model_put(const std::string& name, const std::string& text) {
  std::string why;
  try {
    config::infer_shapes(config::parse_model_spec(text, "seed.yaml"));
  } catch (const error& e) {
    why = e.what();
  }
  expect("model_spec", name, why.empty(), why);
  put("model_spec", name, text);
}

void yaml_seeds(const fs::path& source) {
  for (const char* name : {"fmnist-local.yaml", "fmnist-2trainers.yaml", "fmnist-ssp.yaml"})
    topology_put(std::string("example-") + name, read_text(source / "examples" / name));
  topology_put("overrides",
               "#set job.epochs=1\n#set cluster.nodes[0].endpoint=tcp://127.0.0.1:0\n#set metrics.prometheus_port=0\n" +
                   read_text(source / "examples" / "fmnist-local.yaml"));
  topology_put(
      "minimal",
      "cluster:\n  id: c\n  nodes:\n    - {name: a, roles: [aggregator, loader, trainer], endpoint: inproc://a}\n"
      "job:\n  model: m.yaml\n  batch_size: 8\n");
  topology_put(
      "bad-unknown-key",
      "cluster:\n  id: c\n  nodes:\n    - {name: a, roles: [trainer], endpoint: \"tcp://h:70000\", trainerz: 2}\n"
      "job: {model: m.yaml, batch_size: 0, epochs: -1}\nextra: 1\n");
  topology_put("bad-yaml", "cluster: {id: [unclosed\njob:\n  - *nosuchanchor\n");

  model_put("example-fmnist_cnn.yaml", read_text(source / "examples" / "models" / "fmnist_cnn.yaml"));
  model_put("example-fmnist_cnn_bn.yaml", read_text(source / "examples" / "models" / "fmnist_cnn_bn.yaml"));
  model_put("mlp", "name: mlp\ninput: [784]\nlayers:\n  - dense: {units: 64, init: glorot_uniform}\n  - tanh\n"
                   "  - dropout: {p: 0.2}\n  - dense: {units: 3, bias: false}\n  - sigmoid\nloss: mse\n");
  model_put("padded-conv", "name: c\ninput: [3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel: 3, stride: 2, "
                           "padding: 1, init: kaiming_normal}\n  - maxpool2d: {kernel: 2, stride: 2}\n  - flatten\n"
                           "  - dense: {units: 2}\n");
  model_put("bad-kernel-too-large", "name: c\ninput: [1, 4, 4]\nlayers:\n  - conv2d: {out_channels: 2, kernel: 9}\n"
                                    "  - flatten\n  - dense: {units: 2}\n");
  model_put("bad-padding-overflow", "name: c\ninput: [1, 28, 28]\nlayers:\n  - conv2d: {out_channels: 2, kernel: 3, "
                                    "padding: 9223372036854775808}\n  - flatten\n  - dense: {units: 2}\n");
  model_put("bad-output-overflow", "name: c\ninput: [1, 2147483648, 2147483648]\nlayers:\n"
                                   "  - conv2d: {out_channels: 8, kernel: 1}\nloss: mse\n");
  model_put("bad-huge-units", "name: c\ninput: [4294967296, 4294967296, 4294967296]\nlayers:\n  - flatten\n"
                              "  - dense: {units: 18446744073709551615}\n");
}

// --- protocol: every ps/ message (the model has 16 floats), framed as for the codec -------------

void protocol_seeds() {
  auto seed = [](const std::string& name, net::message m) {
    m.h.cluster_id = net::cluster_id_of("fuzz");
    m.h.sender = "t0";
    m.h.seq = 3;
    put("protocol", name, codec_seed(name, frames_of(m)));
  };
  auto flat = [](float start) {
    auto v = std::make_shared<std::vector<float>>(16);
    for (std::size_t i = 0; i < v->size(); ++i)
      (*v)[i] = start + static_cast<float>(i) * 0.5f;
    return ps::flat_f32{v, v->data(), v->size(), nullptr};
  };
  seed("valid-hello", ps::encode(ps::hello{1, "troupe-job-fingerprint 1\nhash=0123456789abcdef", false}, "aggregator"));
  seed("valid-hello-loader", ps::encode(ps::hello{0, "fp", true}, "aggregator"));
  seed("valid-parts", ps::encode(ps::parts{1, {10, 20, 30}, false, true}, "aggregator"));
  ps::welcome w;
  w.rank = 1;
  w.trainers = 2;
  w.steps_per_epoch = 10;
  w.epochs = 2;
  w.gate = {config::consistency::ssp, 3};
  w.clock = 4;
  w.min_clock = 3;
  w.version = 7;
  w.params = flat(1.f);
  seed("valid-welcome", ps::encode(w, "trainer-1"));
  seed("valid-params", ps::encode(ps::params_update{5, 9, flat(-2.f)}, {"trainer-0", "trainer-1"}));
  ps::push p;
  p.rank = 1;
  p.clock = 12;
  p.version_read = 11;
  p.loss_sum = 3.25;
  p.n = 4;
  p.correct1 = 2;
  p.correct5 = 4;
  p.grad = flat(0.f);
  seed("valid-push", ps::encode(p));
  // job.compression: the same gradient as fp16 halves and as top-k positions + values.
  p.grad.packed =
      std::make_shared<const ps::packed_f32>(ps::pack_halves(p.grad.data, p.grad.size, config::compression::fp16));
  seed("valid-push-fp16", ps::encode(p));
  ps::gradient_compressor topk({config::compression::topk, 0.25}, p.grad.size);
  p.grad.packed = std::make_shared<const ps::packed_f32>(topk.compress(p.grad.data));
  seed("valid-push-topk", ps::encode(p));
  p.n = 0;
  p.grad = {};
  seed("valid-push-empty", ps::encode(p));
  seed("valid-batch-request", ps::encode(ps::batch_request{1, 4, 17}));
  ps::batch b;
  b.clock = 21;
  b.epoch = 1;
  b.step = 3;
  b.n = 2;
  b.image_shape = {1, 2, 2};
  b.images_out = std::make_shared<const std::vector<float>>(8, 0.5f);
  b.labels_out = std::make_shared<const std::vector<std::int32_t>>(std::vector<std::int32_t>{3, 9});
  seed("valid-batch", ps::encode(b, "trainer-0"));
  seed("valid-shutdown", ps::encode(ps::shutdown{"done", 1}, "loader"));
  seed("valid-waiting", ps::encode(ps::waiting{"the loader"}, "trainer-0"));
  seed("valid-reject", ps::encode(ps::reject{"another job: job.seed: '1' here, '2' on node 't0'"}, "trainer-0"));
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fuzz_make_corpus <corpus dir> <source dir>\n";
    return 2;
  }
  try {
    out_root = argv[1];
    codec_seeds();
    protocol_seeds();
    checkpoint_seeds();
    idx_seeds();
    yaml_seeds(argv[2]);
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_corpus: " << e.what() << "\n";
    return 1;
  }
  std::cout << "fuzz_make_corpus: wrote " << written << " seeds under " << out_root.string() << "\n";
  return 0;
}
