#pragma once
/// What travels between actors inside one process: wire messages handed over by the van, and
/// the atoms of local control messages.

#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "net/message.hpp"

namespace troupe::runtime {

/// A decoded wire message delivered to a local actor (shared: CAF messages are copyable).
struct inbound {
  std::shared_ptr<const net::message> msg;
};

using stop_atom = caf::atom_constant<caf::atom("stop")>; ///< finish now: save what must be saved, quit
/// Supervisor to a healthy trainer (one_for_all / rest_for_one): quit quietly, a new incarnation follows.
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;     ///< a timer fired
using line_atom = caf::atom_constant<caf::atom("line")>;     ///< metrics: print this line on the console
using record_atom = caf::atom_constant<caf::atom("record")>; ///< metrics: append this JSON record

} // namespace troupe::runtime

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::runtime::inbound)
