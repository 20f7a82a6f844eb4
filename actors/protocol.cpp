#include "actors/protocol.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace troupe::actors {

std::string trainer_name(std::size_t rank) {
  return fmt::format("trainer-{}", rank);
}

net::message make_message(net::msg_type type, const std::string& to, nlohmann::json meta) {
  net::message m(type);
  meta["to"] = to;
  m.h.meta = meta.dump();
  return m;
}

nlohmann::json meta_of(const net::message& m) {
  nlohmann::json j = nlohmann::json::parse(m.h.meta, nullptr, false);
  if (!j.is_object())
    throw error(fmt::format("{} from '{}': meta is not a JSON object", net::to_string(m.h.type), m.h.sender));
  return j;
}

void throw_missing(const char* key, const net::message& m) {
  throw error(fmt::format("{} from '{}': missing or mistyped field '{}'", net::to_string(m.h.type), m.h.sender, key));
}

void add_flat(net::message& m, const std::string& name, std::shared_ptr<const std::vector<float>> v) {
  const auto n = static_cast<std::uint32_t>(v->size());
  m.add_tensor(name, {n}, std::move(v));
}

net::tensor_view<float> flat_of(const net::message& m, const std::string& name, std::size_t expected) {
  const auto i = m.find(name);
  if (!i)
    throw error(fmt::format("{} from '{}': no tensor '{}'", net::to_string(m.h.type), m.h.sender, name));
  const auto v = m.view<float>(*i);
  if (v.size != expected)
    throw error(fmt::format("{} from '{}': tensor '{}' has {} floats, the model has {}", net::to_string(m.h.type),
                            m.h.sender, name, v.size, expected));
  return v;
}

} // namespace troupe::actors
