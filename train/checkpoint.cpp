#include "train/checkpoint.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/atomic_file.hpp"
#include "common/byte_cursor.hpp"
#include "common/crc32.hpp"
#include "common/little_endian.hpp"

namespace troupe::train {

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "parameters are copied as little-endian floats");

using nlohmann::json;

constexpr char magic[8] = {'T', 'R', 'O', 'U', 'P', 'E', 'C', 'K'};
constexpr std::uint64_t max_header_bytes = 64u << 20;
/// magic + version + header length + three section lengths + CRC: the smallest possible file.
constexpr std::size_t min_file_bytes = 8 + 4 + 8 + 3 * 8 + 4;

std::uint64_t u64_of(const json& j, const char* what) {
  if (!j.is_number_unsigned())
    throw error(fmt::format("{} must be a non-negative integer, found {}", what, j.dump()));
  return j.get<std::uint64_t>();
}

/// Throws unless layout, parameters and optimizer buffers agree; `who` starts the message.
void check_consistent(const training_state& s, const std::string& who) {
  std::size_t offset = 0;
  std::set<std::string> names;
  for (const auto& e : s.layout.entries) {
    if (e.offset != offset || e.size != tensor::numel(e.shape))
      throw error(fmt::format("{}: parameter '{}' of shape {} sits at offset {} with {} floats (expected offset {}, "
                              "{} floats)",
                              who, e.name, tensor::shape_str(e.shape), e.offset, e.size, offset,
                              tensor::numel(e.shape)));
    if (!names.insert(e.name).second)
      throw error(fmt::format("{}: parameter '{}' appears twice in the layout", who, e.name));
    offset += e.size;
  }
  if (offset != s.layout.total || s.params.size() != s.layout.total)
    throw error(fmt::format("{}: the layout describes {} floats (total {}), the parameters hold {}", who, offset,
                            s.layout.total, s.params.size()));
  for (const auto& [key, values] : s.optimizer.buffers) {
    const auto dot = key.rfind('.');
    const std::string param = dot == std::string::npos ? key : key.substr(0, dot);
    const auto it = std::find_if(s.layout.entries.begin(), s.layout.entries.end(),
                                 [&](const nn::param_entry& e) { return e.name == param; });
    if (it == s.layout.entries.end())
      throw error(fmt::format("{}: optimizer buffer '{}' belongs to no parameter of the layout", who, key));
    if (values.size() != it->size)
      throw error(fmt::format("{}: optimizer buffer '{}' holds {} floats, parameter '{}' has {}", who, key,
                              values.size(), param, it->size));
  }
}

json header_of(const training_state& s) {
  json h;
  h["model"] = s.model_name;
  auto& ps = h["parameters"] = json::array();
  for (const auto& e : s.layout.entries)
    ps.push_back({{"name", e.name}, {"shape", e.shape}, {"offset", e.offset}});
  h["global_step"] = s.global_step;
  h["epoch"] = s.epoch;
  h["trainer_clocks"] = s.trainer_clocks;
  h["data_seed"] = s.data_seed;
  auto& cursors = h["loader_cursors"] = json::array();
  for (const auto& [epoch, step] : s.loader_cursors)
    cursors.push_back({epoch, step});
  h["rng_states"] = s.rng_states;
  h["info"] = json::parse(s.info_json);
  return h;
}

/// Fills everything the JSON header holds; throws json exceptions or troupe::error.
void read_header(const json& h, training_state& s) {
  s.model_name = h.at("model").get<std::string>();
  for (const auto& p : h.at("parameters")) {
    nn::param_entry e;
    e.name = p.at("name").get<std::string>();
    // u64_of, not get<>: nlohmann converts -1 to 2^64 - 1 without a word.
    const json& shape = p.at("shape");
    if (!shape.is_array())
      throw error(fmt::format("the shape of parameter '{}' must be an array, found {}", e.name, shape.dump()));
    for (const auto& d : shape)
      e.shape.push_back(u64_of(d, "a shape dimension"));
    e.offset = u64_of(p.at("offset"), "a parameter offset");
    // Checked here: tensor::numel and the running total would wrap around and pass as small sizes.
    e.size = 1;
    for (const auto d : e.shape)
      if (__builtin_mul_overflow(e.size, d, &e.size))
        throw error(fmt::format("parameter '{}' of shape {} has more elements than fit in 64 bits", e.name,
                                tensor::shape_str(e.shape)));
    if (__builtin_add_overflow(s.layout.total, e.size, &s.layout.total))
      throw error(fmt::format("the parameters up to '{}' have more elements in total than fit in 64 bits", e.name));
    s.layout.entries.push_back(std::move(e));
  }
  s.global_step = u64_of(h.at("global_step"), "global_step");
  s.epoch = u64_of(h.at("epoch"), "epoch");
  for (const auto& c : h.at("trainer_clocks"))
    s.trainer_clocks.push_back(u64_of(c, "a trainer clock"));
  s.data_seed = u64_of(h.at("data_seed"), "data_seed");
  for (const auto& c : h.at("loader_cursors")) {
    if (!c.is_array() || c.size() != 2)
      throw error(fmt::format("a loader cursor must be [epoch, step], found {}", c.dump()));
    s.loader_cursors.emplace_back(u64_of(c[0], "a cursor's epoch"), u64_of(c[1], "a cursor's step"));
  }
  for (const auto& r : h.at("rng_states")) {
    if (!r.is_array() || r.size() != 4)
      throw error(fmt::format("an RNG state must be 4 words, found {}", r.dump()));
    std::array<std::uint64_t, 4> words{};
    for (std::size_t i = 0; i < 4; ++i)
      words[i] = u64_of(r[i], "an RNG state word");
    s.rng_states.push_back(words);
  }
  s.info_json = h.at("info").dump();
}

} // namespace

std::string encode_checkpoint(const training_state& s) {
  check_consistent(s, "write_checkpoint");
  std::string h;
  try {
    h = header_of(s).dump();
  } catch (const json::exception& ex) {
    throw error(
        fmt::format("write_checkpoint: cannot encode the header (info must be JSON, names UTF-8): {}", ex.what()));
  }
  std::ostringstream opt;
  optim::write_optimizer_state(opt, s.optimizer);
  const std::string o = opt.str();

  std::string out;
  out.reserve(min_file_bytes + h.size() + s.params.size() * sizeof(float) + o.size() + s.config_text.size());
  out.append(magic, sizeof magic);
  append_le<std::uint32_t>(out, checkpoint_format_version);
  append_le<std::uint64_t>(out, h.size());
  out += h;
  append_le<std::uint64_t>(out, s.params.size());
  out.append(reinterpret_cast<const char*>(s.params.data()), s.params.size() * sizeof(float));
  append_le<std::uint64_t>(out, o.size());
  out += o;
  append_le<std::uint64_t>(out, s.config_text.size());
  out += s.config_text;
  append_le<std::uint32_t>(out, crc32_of(out.data(), out.size()));
  return out;
}

training_state decode_checkpoint(const std::string& bytes, const std::string& source) {
  if (bytes.size() < sizeof magic || std::memcmp(bytes.data(), magic, sizeof magic) != 0)
    throw error(fmt::format("{}: not a Troupe checkpoint (bad magic)", source));
  if (bytes.size() < min_file_bytes)
    throw error(
        fmt::format("{}: truncated checkpoint ({} bytes, the smallest is {})", source, bytes.size(), min_file_bytes));
  const auto version = load_le<std::uint32_t>(bytes.data() + sizeof magic);
  const auto stored_crc = load_le<std::uint32_t>(bytes.data() + bytes.size() - 4);
  const std::size_t body = bytes.size() - 4;
  if (version != checkpoint_format_version) {
    // The CRC trailer is common to all versions: it tells another version from a damaged field.
    if (crc32_of(bytes.data(), body) == stored_crc)
      throw checkpoint_version_error(
          fmt::format("{}: checkpoint format version {} is not supported (this build reads version {})", source,
                      version, checkpoint_format_version));
    throw error(fmt::format("{}: corrupt checkpoint: format version field reads {} (this build reads version {}) "
                            "and the checksum does not match",
                            source, version, checkpoint_format_version));
  }
  // Every shortfall names the file and the field.
  byte_cursor c(bytes.data(), body, fmt::format("{}: truncated or corrupt checkpoint", source));
  c.bytes(sizeof magic + 4, "magic and version");
  const auto header_len = c.read<std::uint64_t>("header length");
  if (header_len > max_header_bytes)
    throw error(
        fmt::format("{}: corrupt checkpoint: header length {} exceeds {}", source, header_len, max_header_bytes));
  const char* h = c.items(header_len, 1, "header");
  const auto floats = c.read<std::uint64_t>("parameter count");
  const char* data = c.items(floats, sizeof(float), "parameters");
  const auto opt_len = c.read<std::uint64_t>("optimizer state length");
  const char* opt = c.items(opt_len, 1, "optimizer state");
  const auto config_len = c.read<std::uint64_t>("config length");
  const char* config = c.items(config_len, 1, "config text");
  if (c.remaining() != 0)
    throw error(fmt::format("{}: corrupt checkpoint: {} unexpected trailing bytes", source, c.remaining()));
  const std::uint32_t crc = crc32_of(bytes.data(), body);
  if (crc != stored_crc)
    throw error(fmt::format("{}: corrupt checkpoint: checksum mismatch (stored {:08x}, computed {:08x})", source,
                            stored_crc, crc));

  training_state s;
  try {
    read_header(json::parse(h, h + header_len), s);
  } catch (const json::exception& ex) {
    throw error(fmt::format("{}: corrupt checkpoint header: {}", source, ex.what()));
  } catch (const error& ex) {
    throw error(fmt::format("{}: corrupt checkpoint header: {}", source, ex.what()));
  }
  s.params.resize(static_cast<std::size_t>(floats));
  if (!s.params.empty())
    std::memcpy(s.params.data(), data, s.params.size() * sizeof(float));
  try {
    std::istringstream in(std::string(opt, static_cast<std::size_t>(opt_len)));
    s.optimizer = optim::read_optimizer_state(in);
    if (in.peek() != std::char_traits<char>::eof())
      throw error("bytes left over after the optimizer state");
  } catch (const error& ex) {
    throw error(fmt::format("{}: corrupt checkpoint: {}", source, ex.what()));
  }
  s.config_text.assign(config, static_cast<std::size_t>(config_len));
  check_consistent(s, fmt::format("{}: inconsistent checkpoint", source));
  return s;
}

void write_checkpoint(const std::string& path, const training_state& s) {
  write_file_atomic(path, encode_checkpoint(s));
}

training_state read_checkpoint(const std::string& path) {
  return decode_checkpoint(read_file(path), path);
}

} // namespace troupe::train
