// What is known about net.* keys beyond what the running kernel shows.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "netns/sysctl/sysctl_key.h"

namespace tcpfault::netns {

// True for keys that have one value for the whole machine (the kernel registers them
// for the initial namespace only, or shows other namespaces a read-only copy).
bool is_host_global(const SysctlKey& key);

// The Linux version that removed a key ("4.12"), if it is one the catalog knows.
std::optional<std::string> removed_in(const SysctlKey& key);

// A key that later kernels added, and what a kernel without it does instead: the cases
// run on older kernels too, so the built-in behaviour stands in for the key there.
struct AddedKey {
  std::string_view key;        // dotted
  std::string_view added_in;   // the first Linux version that has it
  std::string_view built_in;   // the value an older kernel behaves as
  std::string_view behaviour;  // what an older kernel does, and where it is decided
};

// The entry of a key the catalog knows as added later, or nullptr.
const AddedKey* added_later(const SysctlKey& key);

}  // namespace tcpfault::netns
