#include "config/endpoint.hpp"

#include <cctype>
#include <charconv>
#include <system_error>

#include <fmt/format.h>

#include "common/error.hpp"
#include "config/closest_match.hpp"

namespace troupe::config {

namespace {

constexpr const char* forms = "inproc://name, tcp://host:port (port 0 or * = any free port) or ipc://path";

bool has_space(std::string_view s) {
  for (char c : s)
    if (std::isspace(static_cast<unsigned char>(c)) != 0)
      return true;
  return false;
}

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
}

void parse_tcp(std::string_view rest, endpoint_address& out) {
  const auto bad = [&](const std::string& why) {
    throw error(
        fmt::format("bad tcp endpoint 'tcp://{}': {}; expected tcp://host:port, e.g. tcp://127.0.0.1:5701", rest, why));
  };
  std::string_view host, port;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos)
      bad("'[' opens an IPv6 address that is not closed with ']'");
    host = rest.substr(1, close - 1);
    if (host.empty() || host.find(':') == std::string_view::npos || has_space(host))
      bad("expected an IPv6 address inside the brackets");
    if (close + 1 >= rest.size() || rest[close + 1] != ':')
      bad("the port is missing");
    port = rest.substr(close + 2);
  } else {
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos)
      bad("the port is missing");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      bad("an IPv6 address goes in brackets, e.g. tcp://[::1]:5701");
    if (host == "*")
      bad("'*' (any interface) is only good for binding; give the address other nodes connect to");
    if (host.empty())
      bad("the host is missing");
    for (char c : host)
      if (!is_host_char(c))
        bad(fmt::format("'{}' is not allowed in a host name", c));
  }
  out.host = std::string(host);
  if (port == "*") {
    out.port = 0;
    return;
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    bad(fmt::format("the port '{}' is not a number in [0, 65535] or '*'", port));
  out.port = static_cast<std::uint16_t>(value);
}

} // namespace

endpoint_address parse_endpoint(std::string_view text) {
  const std::size_t sep = text.find("://");
  if (sep == std::string_view::npos)
    throw error(fmt::format("expected {}, got '{}'", forms, text));
  const std::string scheme(text.substr(0, sep));
  const std::string_view rest = text.substr(sep + 3);
  endpoint_address out;
  if (scheme == "tcp") {
    out.kind = transport::tcp;
    parse_tcp(rest, out);
    return out;
  }
  if (scheme == "inproc" || scheme == "ipc") {
    out.kind = scheme == "ipc" ? transport::ipc : transport::inproc;
    if (rest.empty() || has_space(rest))
      throw error(
          fmt::format("expected {}://{} without spaces, got '{}'", scheme, scheme == "ipc" ? "path" : "name", text));
    out.name = std::string(rest);
    return out;
  }
  const auto best = closest_match(scheme, {"inproc", "tcp", "ipc"});
  throw error(fmt::format("unknown transport '{}'{}; expected {}", scheme,
                          best ? fmt::format(" (did you mean '{}'?)", *best) : std::string(), forms));
}

std::string to_string(const endpoint_address& e) {
  switch (e.kind) {
  case transport::tcp:
    return e.host.find(':') == std::string::npos ? fmt::format("tcp://{}:{}", e.host, e.port)
                                                 : fmt::format("tcp://[{}]:{}", e.host, e.port);
  case transport::ipc:
    return "ipc://" + e.name;
  case transport::inproc:
    break;
  }
  return "inproc://" + e.name;
}

std::string to_string(transport t) {
  switch (t) {
  case transport::tcp:
    return "tcp";
  case transport::ipc:
    return "ipc";
  case transport::inproc:
    break;
  }
  return "inproc";
}

} // namespace troupe::config
