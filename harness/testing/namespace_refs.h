// Which network namespaces something on the machine still refers to: for tests that
// check that a scenario (and its agent) left nothing behind.
#pragma once

#include <set>
#include <string>

#include "netns/tests/test_support.h"

namespace tcpfault::testing_support {

// Every network namespace that something on the machine still refers to ("net:[N]"):
// a task's namespace, an open namespace fd, or a bind mount.
inline std::set<std::string> referenced_net_namespaces() {
  namespace nt = netns::testing;
  std::set<std::string> out;
  for (auto ino : nt::inodes_of(nt::netns_references())) out.insert("net:[" + std::to_string(ino) + "]");
  for (const auto& [ino, mount_point] : nt::netns_mounts()) out.insert("net:[" + std::to_string(ino) + "]");
  return out;
}

}  // namespace tcpfault::testing_support
