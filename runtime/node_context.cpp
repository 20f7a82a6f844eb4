#include "runtime/node_context.hpp"

#include <iostream>

#include <caf/send.hpp>
#include <fmt/format.h>

#include "runtime/messages.hpp"

namespace troupe::runtime {

bool node_context::send(const std::string& peer_node, net::message m) const {
  try {
    van->send(peer_node, std::move(m));
    return true;
  } catch (const std::exception& e) {
    std::cerr << fmt::format("troupe-node [{}]: send to '{}' failed: {}\n", node, peer_node, e.what());
    return false;
  }
}

void node_context::record(const std::string& json) const {
  caf::anon_send(metrics, record_atom::value, json);
}

void node_context::line(const std::string& text) const {
  caf::anon_send(metrics, line_atom::value, text);
}

} // namespace troupe::runtime
