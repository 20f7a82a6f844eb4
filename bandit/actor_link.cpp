#include "bandit/actor_link.hpp"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

namespace troupe::bandit {

std::optional<net::message> actor_link::receive(clock::time_point deadline) const {
  using namespace std::chrono;
  for (;;) {
    if ((stop && stop->load()) || (abort && abort->load()))
      throw stop_signal{};
    const auto now = clock::now();
    if (now >= deadline)
      return std::nullopt;
    // Short slices so a stop request is seen within 100 ms.
    const auto slice = std::min<clock::duration>(deadline - now, milliseconds(100));
    if (auto m = inbox->pop(duration_cast<milliseconds>(slice) + milliseconds(1)))
      return m;
  }
}

void actor_link::send(const std::string& peer_node, net::message m) const {
  van->send(peer_node, std::move(m));
}

void actor_link::try_send(const std::string& peer_node, net::message m) const noexcept {
  try {
    van->send(peer_node, std::move(m));
  } catch (const std::exception& e) {
    warn(fmt::format("could not send to '{}': {}", peer_node, e.what()));
  }
}

void actor_link::warn(const std::string& text) const {
  std::cerr << fmt::format("fed-bandit [{}]: {}\n", node, text);
}

} // namespace troupe::bandit
