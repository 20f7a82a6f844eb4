#include "train/model_file.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

#include "common/atomic_file.hpp"
#include "common/byte_cursor.hpp"
#include "common/crc32.hpp"
#include "common/error.hpp"
#include "common/little_endian.hpp"

namespace troupe::train {

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "parameters are copied as little-endian floats");

constexpr char magic[8] = {'T', 'R', 'O', 'U', 'P', 'E', 'M', 'D'};
constexpr std::uint64_t max_header_bytes = 64u << 20;

} // namespace

void save_model(const std::string& path, const saved_model& m) {
  TROUPE_ENFORCE(m.params.size() == m.layout.total, "save_model: {} floats for a layout of {}", m.params.size(),
                 m.layout.total);
  nlohmann::json header;
  header["model"] = m.model_name;
  header["info"] = nlohmann::json::parse(m.info_json);
  auto& ps = header["parameters"] = nlohmann::json::array();
  for (const auto& e : m.layout.entries)
    ps.push_back({{"name", e.name}, {"shape", e.shape}, {"offset", e.offset}});
  const std::string h = header.dump();
  std::string out;
  out.reserve(h.size() + m.params.size() * 4 + 64);
  out.append(magic, sizeof magic);
  append_le<std::uint32_t>(out, model_file_version);
  append_le<std::uint64_t>(out, h.size());
  out += h;
  append_le<std::uint64_t>(out, m.params.size());
  out.append(reinterpret_cast<const char*>(m.params.data()), m.params.size() * sizeof(float));
  append_le<std::uint32_t>(out, crc32_of(out.data(), out.size()));
  write_file_atomic(path, out);
}

saved_model load_model(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < sizeof magic || std::memcmp(bytes.data(), magic, sizeof magic) != 0)
    throw error(fmt::format("{}: not a Troupe model file (bad magic)", path));
  if (bytes.size() < sizeof magic + 4 + 8 + 8 + 4)
    throw error(fmt::format("{}: truncated model file ({} bytes)", path, bytes.size()));
  // Every shortfall names the file and the field.
  byte_cursor c(bytes.data(), bytes.size() - 4, fmt::format("{}: truncated model file", path));
  c.bytes(sizeof magic, "magic");
  const auto version = c.read<std::uint32_t>("format version");
  if (version != model_file_version)
    throw error(fmt::format("{}: model file format version {} is not supported (this build reads version {})", path,
                            version, model_file_version));
  const auto header_len = c.read<std::uint64_t>("header length");
  if (header_len > max_header_bytes)
    throw error(fmt::format("{}: corrupt model file: header length {} exceeds {}", path, header_len, max_header_bytes));
  const char* h = c.items(header_len, 1, "header");
  const auto floats = c.read<std::uint64_t>("parameter count");
  const char* data = c.items(floats, sizeof(float), "parameters");
  const auto stored_crc = load_le<std::uint32_t>(bytes.data() + bytes.size() - 4);
  if (c.remaining() != 0)
    throw error(fmt::format("{}: corrupt model file: {} unexpected trailing bytes", path, c.remaining()));
  const std::uint32_t crc = crc32_of(bytes.data(), bytes.size() - 4);
  if (crc != stored_crc)
    throw error(fmt::format("{}: corrupt model file: checksum mismatch (stored {:08x}, computed {:08x})", path,
                            stored_crc, crc));
  saved_model m;
  try {
    const auto header = nlohmann::json::parse(h, h + header_len);
    m.model_name = header.at("model").get<std::string>();
    m.info_json = header.at("info").dump();
    for (const auto& p : header.at("parameters")) {
      nn::param_entry e;
      e.name = p.at("name").get<std::string>();
      e.shape = p.at("shape").get<tensor::shape_t>();
      e.offset = p.at("offset").get<std::size_t>();
      e.size = tensor::numel(e.shape);
      if (e.offset != m.layout.total)
        throw error(fmt::format("parameter '{}' at offset {} (expected {})", e.name, e.offset, m.layout.total));
      m.layout.total += e.size;
      m.layout.entries.push_back(std::move(e));
    }
  } catch (const nlohmann::json::exception& ex) {
    throw error(fmt::format("{}: corrupt model file header: {}", path, ex.what()));
  } catch (const error& ex) {
    throw error(fmt::format("{}: corrupt model file header: {}", path, ex.what()));
  }
  if (m.layout.total != floats)
    throw error(fmt::format("{}: corrupt model file: header describes {} parameters, data holds {}", path,
                            m.layout.total, floats));
  m.params.resize(floats);
  std::memcpy(m.params.data(), data, floats * sizeof(float));
  return m;
}

} // namespace troupe::train
