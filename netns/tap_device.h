// A TAP device: an Ethernet link whose other end is a file descriptor.
//
// The middlebox's interface toward a side run by an agent (docs/agent-protocol.md) is a
// TAP instead of a veth end: every frame the middlebox routes there is read from the fd
// by the agent's stack, and every frame the stack writes arrives on the link. The
// device lives as long as an fd refers to it (it is not persistent) and at most as long
// as its namespace. It has carrier while an fd is attached, so the holder of the fd
// can bring it up and wait for it like a veth.
#pragma once

#include <string>

#include "netns/namespace.h"
#include "netns/unique_fd.h"

namespace tcpfault::netns {

// Creates TAP device `name` (IFF_TAP | IFF_NO_PI: one Ethernet frame per read and write,
// no packet-information header) in `ns`, down. The fd is close-on-exec; hand a copy to
// the process that should own the other end.
UniqueFd create_tap(const Namespace& ns, const std::string& name);

}  // namespace tcpfault::netns
