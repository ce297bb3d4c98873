// Debug aid: give an anonymous namespace a name under /run/netns.
//
// A bind mount of the namespace file keeps it alive and lets `ip netns exec <name>`
// enter it. Unlike the fd, a mount survives the process, so it is only made on request
// and always removed by unpin.
#pragma once

#include <string>

#include "netns/namespace.h"

namespace tcpfault::netns {

// Bind-mounts `ns` at /run/netns/<name>; returns that path.
std::string pin_namespace(const Namespace& ns, const std::string& name);

// Unmounts and removes a path made by pin_namespace; never throws.
void unpin_namespace(const std::string& path) noexcept;

}  // namespace tcpfault::netns
