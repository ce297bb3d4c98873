// What is known about net.* keys beyond what the running kernel shows.
#pragma once

#include <optional>
#include <string>

#include "netns/sysctl/sysctl_key.h"

namespace tcpfault::netns {

// True for keys that have one value for the whole machine (the kernel registers them
// for the initial namespace only, or shows other namespaces a read-only copy).
bool is_host_global(const SysctlKey& key);

// The Linux version that removed a key ("4.12"), if it is one the catalog knows.
std::optional<std::string> removed_in(const SysctlKey& key);

}  // namespace tcpfault::netns
