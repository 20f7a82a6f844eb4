#include "train/model_file.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

#include "common/atomic_file.hpp"
#include "common/crc32.hpp"
#include "common/error.hpp"

namespace troupe::train {

namespace {

constexpr char magic[8] = {'T', 'R', 'O', 'U', 'P', 'E', 'M', 'D'};
constexpr std::uint64_t max_header_bytes = 64u << 20;

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

/// Bounds-checked reader over the file's bytes; every shortfall names the file and the field.
class cursor {
public:
  cursor(const std::string& path, const std::string& bytes, std::size_t end) : path_(path), bytes_(bytes), end_(end) {}
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  const char* take(std::size_t n, const char* what) {
    need(n, what);
    const char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::size_t pos() const { return pos_; }

private:
  void need(std::size_t n, const char* what) {
    if (n > end_ - pos_)
      throw error(fmt::format("{}: truncated model file: {} needs {} bytes at offset {}, only {} left", path_, what, n,
                              pos_, end_ - pos_));
  }
  const std::string& path_;
  const std::string& bytes_;
  std::size_t end_, pos_ = 0;
};

std::uint32_t crc_of(const char* data, std::size_t n) {
  return crc32_of(data, n);
}

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
  put<std::uint32_t>(out, model_file_version);
  put<std::uint64_t>(out, h.size());
  out += h;
  put<std::uint64_t>(out, m.params.size());
  out.append(reinterpret_cast<const char*>(m.params.data()), m.params.size() * sizeof(float));
  put<std::uint32_t>(out, crc_of(out.data(), out.size()));
  write_file_atomic(path, out);
}

saved_model load_model(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < sizeof magic || std::memcmp(bytes.data(), magic, sizeof magic) != 0)
    throw error(fmt::format("{}: not a Troupe model file (bad magic)", path));
  if (bytes.size() < sizeof magic + 4 + 8 + 8 + 4)
    throw error(fmt::format("{}: truncated model file ({} bytes)", path, bytes.size()));
  cursor c(path, bytes, bytes.size() - 4);
  c.take(sizeof magic, "magic");
  const auto version = c.get<std::uint32_t>("format version");
  if (version != model_file_version)
    throw error(fmt::format("{}: model file format version {} is not supported (this build reads version {})", path,
                            version, model_file_version));
  const auto header_len = c.get<std::uint64_t>("header length");
  if (header_len > max_header_bytes)
    throw error(fmt::format("{}: corrupt model file: header length {} exceeds {}", path, header_len, max_header_bytes));
  const char* h = c.take(header_len, "header");
  const auto floats = c.get<std::uint64_t>("parameter count");
  if (floats > (bytes.size() / sizeof(float)))
    throw error(fmt::format("{}: corrupt model file: {} parameters cannot fit in {} bytes", path, floats, bytes.size()));
  const char* data = c.take(floats * sizeof(float), "parameters");
  std::uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  if (c.pos() != bytes.size() - 4)
    throw error(fmt::format("{}: corrupt model file: {} unexpected trailing bytes", path, bytes.size() - 4 - c.pos()));
  const std::uint32_t crc = crc_of(bytes.data(), bytes.size() - 4);
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
