#include "bandit/actor_link.hpp"

#include <iostream>

#include <caf/all.hpp>
#include <fmt/format.h>

#include "runtime/messages.hpp"

namespace troupe::bandit {

std::optional<net::message> actor_link::receive(clock::time_point deadline) const {
  if (stop != nullptr && stop->load())
    throw stop_signal{};
  std::optional<net::message> out;
  bool stopped = false;
  const auto now = clock::now();
  const auto wait =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline > now ? deadline - now : clock::duration::zero());
  self->receive([&](runtime::inbound& in) { out = *in.msg; }, [&](runtime::stop_atom) { stopped = true; },
                [&](runtime::restart_atom) { stopped = true; }, caf::after(wait) >> [] {});
  if (stopped)
    throw stop_signal{};
  return out;
}

void actor_link::send(const std::string& peer_node, net::message m) const {
  ctx->van->send(peer_node, std::move(m));
}

void actor_link::try_send(const std::string& peer_node, net::message m) const noexcept {
  try {
    ctx->van->send(peer_node, std::move(m));
  } catch (const std::exception& e) {
    warn(fmt::format("could not send to '{}': {}", peer_node, e.what()));
  }
}

void actor_link::warn(const std::string& text) const {
  std::cerr << fmt::format("fed-bandit [{}]: {}\n", node(), text);
}

void actor_link::record(const nlohmann::json& rec) const {
  ctx->record(rec.dump());
}

void actor_link::line(const std::string& text) const {
  if (console)
    ctx->line(text);
}

void actor_link::refuse_unauthorized(const std::string& what) const {
  const std::uint64_t n = ++*ctx->refused_unauthorized;
  if (n <= 20 || n % 1000 == 0)
    warn(fmt::format("refused {}{}", what, n == 20 ? " (further refusals: every 1000th is shown)" : ""));
}

} // namespace troupe::bandit
